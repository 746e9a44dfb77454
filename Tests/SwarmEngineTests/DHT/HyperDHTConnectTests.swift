import CompactEncoding
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import Testing

@testable import SwarmEngine

/// Connecting by public key on a six-node test net on 127.0.0.1, where both sides can be reached (as on an open
/// network): the server announces itself through the nodes closest to its key, the client's Noise IK handshake goes
/// through them, and a secret-stream over UDX carries protomux both ways with the server's key authenticated. A
/// firewall hook refuses a key; a server that is not there is PEER_NOT_FOUND; a repeated handshake gets the same
/// answer; garbage Noise allocates nothing.
@Suite(.serialized) struct HyperDHTConnectTests {
    @Test func aClientConnectsToAServerByItsKey() async throws {
        try await DHTTestNet.run(size: 6, clients: 2) { net, peers, loop in
            let serverKeys = Ed25519.randomKeyPair()
            let clientKeys = Ed25519.randomKeyPair()
            let accepted = loop.makePromise(of: HyperDHTConnection.self)
            let server = try await loop.flatSubmit {
                peers[0].listen(keyPair: serverKeys) { accepted.succeed($0) }
            }.get()
            let relays = try await loop.submit { server.relays.count }.get()
            #expect(relays == 3)

            let start = NIODeadline.now()
            let outgoing = try await loop.flatSubmit { peers[1].connect(to: serverKeys.publicKey, keyPair: clientKeys) }.get()
            let incoming = try await accepted.futureResult.get()
            let elapsed = NIODeadline.now() - start
            #expect(outgoing.connection.remotePublicKey == serverKeys.publicKey)
            #expect(incoming.connection.remotePublicKey == clientKeys.publicKey)
            #expect(outgoing.path == .direct && incoming.path == .direct)
            #expect(elapsed < .seconds(10))

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
            outgoing.connection.disconnect()
            incoming.connection.disconnect()
            _ = try await loop.flatSubmit { server.close() }.get()
        }
    }

    @Test func refusalsAndAbsentServers() async throws {
        try await DHTTestNet.run(size: 6, clients: 2) { net, peers, loop in
            let serverKeys = Ed25519.randomKeyPair()
            let banned = Ed25519.randomKeyPair()
            let server = try await loop.flatSubmit {
                peers[0].listen(keyPair: serverKeys, firewall: { key, _, _ in key == banned.publicKey }) { _ in }
            }.get()
            // Refused by the hook: no answer comes back through any node.
            await #expect(throws: HyperDHTConnectError.peerConnectionFailed) {
                try await loop.flatSubmit { peers[1].connect(to: serverKeys.publicKey, keyPair: banned) }.get()
            }
            let refused = try await loop.submit { server.refused }.get()
            #expect(refused == 1, "one refusal, however many nodes and retries carried the handshake")
            // Nobody announced this key.
            await #expect(throws: HyperDHTConnectError.peerNotFound) {
                try await loop.flatSubmit { peers[1].connect(to: Ed25519.randomKeyPair().publicKey) }.get()
            }
            // One handshake arriving twice (a retry, or through a second node) gets the same answer, counted once.
            let answeredBefore = try await loop.submit { server.answered }.get()
            var initiator = try NoiseHandshake(
                pattern: .ik, isInitiator: true, staticKeyPair: Ed25519.randomKeyPair(),
                prologue: HyperDHTSignatures.peerHandshakeNamespace, remoteStaticKey: serverKeys.publicKey)
            let hello = try initiator.send(
                payload: HyperDHTNoisePayload(firewall: 0, udx: .init(reusableSocket: false, id: 77, seq: 0)).compactEncoded())
            let (first, second, answeredAfter) = try await loop.submit {
                let socket = peers[0].serverSocket!
                let first = server.handshake(hello, peerAddress: net.bootstrap, from: net.bootstrap, socket: socket)?.noise
                let second = server.handshake(hello, peerAddress: net.bootstrap, from: net.bootstrap, socket: socket)?.noise
                return (first, second, server.answered)
            }.get()
            #expect(first != nil && first == second)
            #expect(answeredAfter == answeredBefore + 1)
            // Garbage where a Noise message should be: no answer, nothing kept.
            let garbage = try await loop.submit { server.handshake([UInt8](repeating: 7, count: 96), peerAddress: nil, from: net.bootstrap, socket: peers[0].serverSocket!) }.get()
            #expect(garbage == nil)
            // Closed: the announce is withdrawn and nothing answers.
            _ = try await loop.flatSubmit { server.close() }.get()
            let routes = try await loop.submit { net.nodes.map(\.storedRoutes).reduce(0, +) }.get()
            #expect(routes == 0)
        }
    }

    /// A relay of the server goes away: the server's pings notice, it announces again on the closest nodes left,
    /// and clients still reach it.
    @Test func aServerReannouncesWhenARelayGoesAway() async throws {
        try await DHTTestNet.run(size: 6, clients: 2) { net, peers, loop in
            let serverKeys = Ed25519.randomKeyPair()
            let reannounced = loop.makePromise(of: Void.self)
            let server = try await loop.flatSubmit {
                peers[0].listen(keyPair: serverKeys) { _ in }.map { server in
                    server.relayPingInterval = .milliseconds(100)
                    server.onAnnounced = { server in if server.announcements >= 2 { reannounced.succeed() } }
                    return server
                }
            }.get()
            let (first, gone) = try await loop.submit { () -> ([IPv4Endpoint], DHTNode) in
                let relays = server.relays.map(\.relayAddress)
                return (relays, net.nodes.first { relays.contains($0.address!) }!)
            }.get()
            #expect(first.count == 3)
            let goneAddress = try await loop.submit { gone.address! }.get()
            try await loop.flatSubmit { gone.stop(); return gone.udx.close() }.get()
            let timeout = loop.scheduleTask(in: .seconds(45)) { reannounced.fail(DHTNode.Failure.nobodyAnswered) }
            try await reannounced.futureResult.get()
            timeout.cancel()
            let now = try await loop.submit { server.relays.map(\.relayAddress) }.get()
            #expect(now.count == 3)
            #expect(!now.contains(goneAddress))
            let connection = try await loop.flatSubmit { peers[1].connect(to: serverKeys.publicKey) }.get()
            #expect(connection.connection.remotePublicKey == serverKeys.publicKey)
            connection.connection.disconnect()
            _ = try await loop.flatSubmit { server.close() }.get()
        }
    }

    /// A server nobody can reach (a firewalled node) offers a holepunch session. Alone, with no DHT node to tell it
    /// where its punching socket is seen, it cannot classify its NAT even after fresh sockets, so it answers a round
    /// with the reference's abort, sealed for that session, and the client stops at once; a round for an unknown
    /// session, or one that does not open, gets nothing.
    @Test func aFirewalledServerAbortsHolepunchRounds() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let node = DHTNode(
            udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: [], ephemeral: true))
        try await loop.flatSubmit { node.start() }.get()
        let serverKeys = Ed25519.randomKeyPair()
        let client = IPv4Endpoint(host: "127.0.0.1", port: 40_000)!
        let relay = IPv4Endpoint(host: "127.0.0.1", port: 40_001)!
        var initiator = try NoiseHandshake(
            pattern: .ik, isInitiator: true, staticKeyPair: Ed25519.randomKeyPair(),
            prologue: HyperDHTSignatures.peerHandshakeNamespace, remoteStaticKey: serverKeys.publicKey)
        let hello = try initiator.send(
            payload: HyperDHTNoisePayload(firewall: 0, udx: .init(reusableSocket: false, id: 5, seq: 0)).compactEncoded())
        let (server, answer) = try await loop.submit { () -> (HyperDHTServer, [UInt8]?) in
            let server = HyperDHTServer(
                node: node, keyPair: serverKeys, firewall: { _, _, _ in false }, onConnection: { _ in },
                logger: .init(label: "test"))
            return (server, server.handshake(hello, peerAddress: client, from: relay, socket: node.serverSocket!)?.noise)
        }.get()
        let payload = try HyperDHTNoisePayload(leniently: try initiator.receive(try #require(answer)))
        #expect(payload.firewall == HyperDHTFirewall.unknown.rawValue)
        let session = try #require(payload.holepunch?.id)
        let secure = HyperDHTSecurePayload(handshakeHash: try #require(initiator.result).handshakeHash)
        let probe = secure.encrypt(
            HyperDHTHolepunchPayload(firewall: HyperDHTFirewall.consistent.rawValue, round: 0, connected: false, punching: false))
        let socket = try await loop.submit { node.serverSocket! }.get()
        let round = { (id: UInt64, payload: [UInt8]) in
            try await loop.flatSubmit {
                server.holepunch(
                    HyperDHTHolepunch(mode: 2, id: id, payload: payload, peerAddress: client), relay: relay, on: socket,
                    to: client)
            }.get()
        }
        let aborted = try await round(session, probe)
        let unknown = try await round(session + 1, probe)
        let garbage = try await round(session, [1, 2, 3])
        let sealed = try #require(aborted?.payload)
        let reply = try #require(secure.decrypt(sealed))
        #expect(reply.error == 1)
        #expect(reply.punching == false)
        #expect(unknown == nil)
        #expect(garbage == nil)
        try await loop.flatSubmit { node.stop(); return node.udx.close() }.get()
        try await group.shutdownGracefully()
    }
}
