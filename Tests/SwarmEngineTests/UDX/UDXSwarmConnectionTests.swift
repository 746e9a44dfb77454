import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import Testing

/// secret-stream + protomux, the same layers as on TCP, over UDX streams on 127.0.0.1: the Noise XX handshake runs
/// over the stream, protomux channels carry messages both ways (a large one too), and a clean end reaches the peer.
@Suite struct UDXSwarmConnectionTests {
    @Test func aSwarmConnectionRunsUnchangedOverAUDXStream() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        defer { UDXSocketTests.close(nodeA, nodeB) }
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0).get()
        let socketB = try await nodeB.bind(host: "127.0.0.1", port: 0).get()
        let keysA = Ed25519.randomKeyPair(), keysB = Ed25519.randomKeyPair()
        let (outgoing, incoming) = try await loop.flatSubmit { () -> EventLoopFuture<(SwarmConnection, SwarmConnection)> in
            do {
                let (a, b) = try UDXSocketTests.connectedPair(socketA, socketB)
                let responder = SwarmConnection.establish(
                    over: b, session: try SecretStreamSession(isInitiator: false, staticKeyPair: keysB), label: "A")
                let initiator = SwarmConnection.establish(
                    over: a,
                    session: try SecretStreamSession(
                        isInitiator: true, staticKeyPair: keysA, expectedRemotePublicKey: keysB.publicKey),
                    label: "B")
                return initiator.and(responder)
            } catch {
                return loop.makeFailedFuture(error)
            }
        }.get()
        #expect(outgoing.remotePublicKey == keysB.publicKey && incoming.remotePublicKey == keysA.publicKey)
        #expect(outgoing.handshakeHash == incoming.handshakeHash)

        let large = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        outgoing.open(protocol: "room", id: [7], handshake: [1])
        incoming.open(protocol: "room", id: [7], handshake: [2])
        outgoing.send(protocol: "room", id: [7], type: 0, message: Array("over udx".utf8))
        outgoing.send(protocol: "room", id: [7], type: 1, message: large)
        incoming.send(protocol: "room", id: [7], type: 2, message: Array("and back".utf8))
        var atB = incoming.events.makeAsyncIterator()
        #expect(await atB.next() == .opened(protocol: "room", id: [7], handshake: [1]))
        #expect(await atB.next() == .message(protocol: "room", id: [7], type: 0, message: Array("over udx".utf8)))
        #expect(await atB.next() == .message(protocol: "room", id: [7], type: 1, message: large))
        var atA = outgoing.events.makeAsyncIterator()
        #expect(await atA.next() == .opened(protocol: "room", id: [7], handshake: [2]))
        #expect(await atA.next() == .message(protocol: "room", id: [7], type: 2, message: Array("and back".utf8)))

        // A clean end: both sides see the connection go, and the streams finish (no reset).
        outgoing.end()
        #expect(await atB.next() == .disconnected)
        #expect(await atA.next() == .disconnected)
        await outgoing.waitUntilClosed()
        await incoming.waitUntilClosed()
    }
}
