import CompactEncoding
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import Testing

@testable import SwarmEngine

/// Our blind relay between our own peers on 127.0.0.1 (the NAT matrix exercises it across NATs, the interop tests
/// with Node): two firewalled peers that do not punch meet through it, end to end encrypted (the relay forwards
/// packets it cannot read); its limits refuse a pair beyond them and drop what exceeds its bandwidth.
@Suite(.serialized) struct BlindRelayTests {
    /// Waits on the loop's clock until `condition` holds (or `timeout`): the relay's counters have no events.
    static func until(_ loop: any EventLoop, timeout: TimeAmount = .seconds(10), _ condition: @escaping () -> Bool) async throws -> Bool {
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline {
            if try await loop.submit(condition).get() { return true }
            try await loop.scheduleTask(in: .milliseconds(5)) {}.futureResult.get()
        }
        return try await loop.submit(condition).get()
    }

    @Test func twoPeersMeetThroughTheRelay() async throws {
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let peers = try await net.firewalledPeers(2, on: loop)
            let relayKeys = Ed25519.randomKeyPair()
            let relay = try await loop.flatSubmit { BlindRelayServer.start(on: net.nodes.last!, keyPair: relayKeys) }.get()
            let serverKeys = Ed25519.randomKeyPair()
            let served = loop.makePromise(of: HyperDHTConnection.self)
            let server = try await loop.flatSubmit { peers[0].listen(keyPair: serverKeys) { served.succeed($0) } }.get()
            let outgoing = try await loop.flatSubmit {
                peers[1].connect(to: serverKeys.publicKey, relayThrough: [relayKeys.publicKey], holepunch: false, localConnection: false)
            }.get()
            let incoming = try await served.futureResult.get()
            #expect(outgoing.path == .relayed && incoming.path == .relayed)
            #expect(outgoing.connection.remotePublicKey == serverKeys.publicKey)
            // Both see the relay's address, not each other's.
            let relayPort = try await loop.submit { net.nodes.last!.serverSocket!.port! }.get()
            #expect(Int(outgoing.remoteAddress.port) == relayPort && Int(incoming.remoteAddress.port) == relayPort)

            outgoing.connection.open(protocol: "pear/echo", id: [1], handshake: Array("client".utf8))
            incoming.connection.open(protocol: "pear/echo", id: [1], handshake: Array("server".utf8))
            let big = [UInt8](repeating: 0x5a, count: 200_000)
            outgoing.connection.send(protocol: "pear/echo", id: [1], type: 0, message: big)
            incoming.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("pong".utf8))
            var fromServer = outgoing.connection.events.makeAsyncIterator()
            var fromClient = incoming.connection.events.makeAsyncIterator()
            #expect(await fromServer.next() == .opened(protocol: "pear/echo", id: [1], handshake: Array("server".utf8)))
            #expect(await fromServer.next() == .message(protocol: "pear/echo", id: [1], type: 0, message: Array("pong".utf8)))
            #expect(await fromClient.next() == .opened(protocol: "pear/echo", id: [1], handshake: Array("client".utf8)))
            #expect(await fromClient.next() == .message(protocol: "pear/echo", id: [1], type: 0, message: big))
            let (linked, links) = try await loop.submit { (relay.pairsLinked, relay.linkCount) }.get()
            #expect(linked == 1 && links == 1)

            // When the relayed connection closes, so do both ends' connections to the relay, and the link goes.
            outgoing.connection.disconnect()
            incoming.connection.disconnect()
            #expect(try await Self.until(loop) { relay.sessionCount == 0 && relay.linkCount == 0 })
            _ = try await loop.flatSubmit { server.close() }.get()
            _ = try await loop.flatSubmit { relay.close() }.get()
            try await DHTTestNet.close(peers, on: loop)
        }
    }

    @Test func theRelayRefusesBeyondItsLimits() async throws {
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let peers = try await net.firewalledPeers(4, on: loop)
            var limits = BlindRelayServer.Limits()
            limits.pairing.links = 1
            limits.bytesPerSecond = 16 * 1024
            let relayKeys = Ed25519.randomKeyPair()
            let relay = try await loop.flatSubmit {
                BlindRelayServer.start(on: net.nodes.last!, keyPair: relayKeys, limits: limits)
            }.get()
            let firstKeys = Ed25519.randomKeyPair()
            let secondKeys = Ed25519.randomKeyPair()
            let served = loop.makePromise(of: HyperDHTConnection.self)
            let first = try await loop.flatSubmit { peers[0].listen(keyPair: firstKeys) { served.succeed($0) } }.get()
            let second = try await loop.flatSubmit { peers[2].listen(keyPair: secondKeys) { _ in } }.get()
            let outgoing = try await loop.flatSubmit {
                peers[1].connect(to: firstKeys.publicKey, relayThrough: [relayKeys.publicKey], holepunch: false, localConnection: false)
            }.get()
            let incoming = try await served.futureResult.get()
            #expect(outgoing.path == .relayed)

            // A second pair while the one link allowed is in use: refused, nothing linked.
            let refused = try await loop.submit {
                peers[3].connect(to: secondKeys.publicKey, relayThrough: [relayKeys.publicKey], holepunch: false, localConnection: false)
            }.get()
            #expect(try await Self.until(loop) { relay.refusals >= 1 })
            let linked = try await loop.submit { relay.pairsLinked }.get()
            #expect(linked == 1)

            // More than the bandwidth allows: the relay drops the excess (UDX sends it again, slower).
            outgoing.connection.open(protocol: "pear/echo", id: [1], handshake: [])
            outgoing.connection.send(protocol: "pear/echo", id: [1], type: 0, message: [UInt8](repeating: 1, count: 256 * 1024))
            #expect(try await Self.until(loop) { relay.droppedOverBudget > 0 })

            outgoing.connection.disconnect()
            incoming.connection.disconnect()
            _ = try await loop.flatSubmit { relay.close() }.get()
            // With the relay gone, the refused attempt ends as a relay failure.
            await #expect(throws: HyperDHTConnectError.relayAborted) { try await refused.get() }
            _ = try await loop.flatSubmit { first.close().and(second.close()) }.get()
            try await DHTTestNet.close(peers, on: loop)
        }
    }
}
