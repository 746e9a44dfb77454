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
        let (outgoing, incoming, _) = try await Self.encryptedPair(socketA, keysA, socketB, keysB)
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

    /// secret-stream's unordered datagrams ride on UDX MESSAGE packets: sealed for this connection, they arrive
    /// both ways and open to what was sent; a MESSAGE that is not sealed with the connection's keys (forged, or of
    /// another session) is dropped and counted; one larger than a packet carries is refused before sending; a TCP
    /// connection has none.
    @Test func datagramsRideOnMessagePacketsSealedForTheConnection() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        defer { UDXSocketTests.close(nodeA, nodeB) }
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0).get()
        let socketB = try await nodeB.bind(host: "127.0.0.1", port: 0).get()
        let (outgoing, incoming, streamA) = try await Self.encryptedPair(
            socketA, Ed25519.randomKeyPair(), socketB, Ed25519.randomKeyPair())
        let limit = try #require(outgoing.maximumDatagramSize)
        #expect(limit == UDXPacket.basePayload - 24)

        var atB = incoming.datagrams.makeAsyncIterator()
        var atA = outgoing.datagrams.makeAsyncIterator()
        try outgoing.send(datagram: Array("ping".utf8))
        #expect(await atB.next() == Array("ping".utf8))
        try incoming.send(datagram: [])
        #expect(await atA.next() == [])
        let full = (0..<limit).map { UInt8(truncatingIfNeeded: $0) }
        try outgoing.send(datagram: full)
        #expect(await atB.next() == full)
        #expect(throws: SwarmDatagramError.tooLarge(size: limit + 1, limit: limit)) {
            try outgoing.send(datagram: full + [0])
        }

        // A forged MESSAGE straight on A's stream, then a sealed one: the first is dropped, the second arrives.
        try await loop.submit { try streamA.send(message: [UInt8](repeating: 0x5a, count: 40)) }.get()
        try outgoing.send(datagram: Array("after the forgery".utf8))
        #expect(await atB.next() == Array("after the forgery".utf8))
        #expect(incoming.droppedDatagrams == 1)
        #expect(outgoing.droppedDatagrams == 0)

        outgoing.end()
        await outgoing.waitUntilClosed()
        await incoming.waitUntilClosed()
        // The datagrams end with the connection.
        #expect(await atA.next() == nil)

        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let client = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { _ in }
        let overTCP = try await client.connect(host: "127.0.0.1", port: port)
        #expect(overTCP.maximumDatagramSize == nil)
        #expect(throws: SwarmDatagramError.unsupported) { try overTCP.send(datagram: [1]) }
        var none = overTCP.datagrams.makeAsyncIterator()
        #expect(await none.next() == nil)
        overTCP.disconnect()
        try await listener.close()
        try await server.shutdown()
        try await client.shutdown()
    }

    /// secret-stream + protomux over a pair of connected UDX streams (A initiates and expects B's key): the two
    /// connections once both finished the handshake, and A's raw stream.
    static func encryptedPair(
        _ socketA: UDXSocket, _ keysA: Ed25519.KeyPair, _ socketB: UDXSocket, _ keysB: Ed25519.KeyPair
    ) async throws -> (outgoing: SwarmConnection, incoming: SwarmConnection, streamA: UDXStream) {
        let loop = socketA.node.eventLoop
        let streams = try await loop.submit { try UDXSocketTests.connectedPair(socketA, socketB) }.get()
        let (outgoing, incoming) = try await loop.flatSubmit { () -> EventLoopFuture<(SwarmConnection, SwarmConnection)> in
            do {
                let responder = SwarmConnection.establish(
                    over: streams.1, session: try SecretStreamSession(isInitiator: false, staticKeyPair: keysB),
                    label: "A")
                let initiator = SwarmConnection.establish(
                    over: streams.0,
                    session: try SecretStreamSession(
                        isInitiator: true, staticKeyPair: keysA, expectedRemotePublicKey: keysB.publicKey),
                    label: "B")
                return initiator.and(responder)
            } catch {
                return loop.makeFailedFuture(error)
            }
        }.get()
        return (outgoing, incoming, streams.0)
    }
}
