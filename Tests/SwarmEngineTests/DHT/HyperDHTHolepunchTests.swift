import CompactEncoding
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import Testing

@testable import SwarmEngine

/// Hole punching between two firewalled nodes on 127.0.0.1 (as hyperdht's own "force holepunch" test: nodes that
/// never run the quick firewall check stay firewalled, so neither side offers itself as reachable). The punching
/// sockets' NATs classify as consistent (every node sees the same address), the probe and punch rounds go through
/// the server's relays, and the stream runs over the punched sockets. The NAT kinds that loopback cannot show are in
/// `NATMatrixTests` (network namespaces).
@Suite(.serialized) struct HyperDHTHolepunchTests {
    @Test func twoFirewalledPeersPunchThrough() async throws {
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let peers = try await net.firewalledPeers(2, on: loop)
            let firewalled = try await loop.submit { peers.map { $0.isFirewalled && $0.remoteAddress == nil } }.get()
            #expect(firewalled == [true, true])
            let serverKeys = Ed25519.randomKeyPair()
            let accepted = loop.makePromise(of: HyperDHTConnection.self)
            let server = try await loop.flatSubmit { peers[0].listen(keyPair: serverKeys) { accepted.succeed($0) } }.get()

            let outgoing = try await loop.flatSubmit { peers[1].connect(to: serverKeys.publicKey, localConnection: false) }.get()
            let incoming = try await accepted.futureResult.get()
            #expect(outgoing.path == .punched)
            #expect(incoming.path == .punched)
            #expect(outgoing.connection.remotePublicKey == serverKeys.publicKey)
            // The stream runs on punching sockets, not the nodes' own.
            let nodeSockets = try await loop.submit { peers.flatMap { [$0.serverSocket!.port!, $0.clientSocket!.port!] } }.get()
            #expect(!nodeSockets.contains(Int(outgoing.remoteAddress.port)))
            #expect(!nodeSockets.contains(Int(incoming.remoteAddress.port)))

            outgoing.connection.open(protocol: "pear/echo", id: [1], handshake: Array("client".utf8))
            incoming.connection.open(protocol: "pear/echo", id: [1], handshake: Array("server".utf8))
            outgoing.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("ping".utf8))
            incoming.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("pong".utf8))
            var fromServer = outgoing.connection.events.makeAsyncIterator()
            var fromClient = incoming.connection.events.makeAsyncIterator()
            #expect(await fromServer.next() == .opened(protocol: "pear/echo", id: [1], handshake: Array("server".utf8)))
            #expect(await fromServer.next() == .message(protocol: "pear/echo", id: [1], type: 0, message: Array("pong".utf8)))
            #expect(await fromClient.next() == .opened(protocol: "pear/echo", id: [1], handshake: Array("client".utf8)))
            #expect(await fromClient.next() == .message(protocol: "pear/echo", id: [1], type: 0, message: Array("ping".utf8)))

            // Closing the connections releases the punching sockets they ran on.
            outgoing.connection.disconnect()
            incoming.connection.disconnect()
            await outgoing.connection.waitUntilClosed()
            await incoming.connection.waitUntilClosed()
            _ = try await loop.flatSubmit { server.close() }.get()
            try await DHTTestNet.close(peers, on: loop)
        }
    }
}
