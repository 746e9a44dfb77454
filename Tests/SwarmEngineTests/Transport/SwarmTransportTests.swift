import Foundation
import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import Synchronization
import Testing

/// Two endpoints over loopback TCP: XX handshake, protomux channels, and misbehaving peers.
@Suite(.serialized) struct SwarmTransportTests {
    final class Inbox: Sendable {
        let connections = Mutex<[SwarmConnection]>([])
    }

    func waitFor<T: Sendable>(_ what: String, timeout: Duration = .seconds(10), _ probe: () throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try probe() { return value }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TimedOut(what: what)
    }

    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for: \(what)" }
    }

    /// Two transports on loopback, one connection between them (the dialled side is `outgoing`).
    struct Pair {
        let server: SwarmTransport, client: SwarmTransport
        let listener: any Channel
        let outgoing: SwarmConnection, incoming: SwarmConnection

        func shutDown() async throws {
            try await listener.close()
            try await server.shutdown()
            try await client.shutdown()
        }
    }

    func connectedPair(
        server: SwarmTransport = SwarmTransport(keyPair: Ed25519.randomKeyPair()),
        client: SwarmTransport = SwarmTransport(keyPair: Ed25519.randomKeyPair())
    ) async throws -> Pair {
        let inbox = Inbox()
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { connection in
            inbox.connections.withLock { $0.append(connection) }
        }
        let outgoing = try await client.connect(host: "127.0.0.1", port: port)
        let incoming = try await waitFor("accepted") { inbox.connections.withLock { $0.first } }
        return Pair(server: server, client: client, listener: listener, outgoing: outgoing, incoming: incoming)
    }

    /// Bulk traffic on a `bulk` channel: message `index` is `size` bytes of `UInt8(index)`, so arrival order and
    /// size can be checked.
    enum Bulk {
        static func open(_ pair: Pair) {
            pair.incoming.open(protocol: "bulk", id: [], handshake: [])
            pair.outgoing.open(protocol: "bulk", id: [], handshake: [])
        }

        static func message(_ index: Int, size: Int) -> [UInt8] {
            [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size)
        }

        static func send(count: Int, size: Int, on connection: SwarmConnection) {
            for index in 0..<count {
                connection.send(protocol: "bulk", id: [], type: 0, message: message(index, size: size))
            }
        }

        /// Reads bulk messages until `count` arrived (or the events end), checking each is the next one; returns
        /// how many arrived.
        static func receive(count: Int, size: Int, from connection: SwarmConnection) async -> Int {
            var received = 0
            for await event in connection.events {
                guard case .message(_, _, _, let body) = event else { continue }
                #expect(body == message(received, size: size))
                received += 1
                if received == count { break }
            }
            return received
        }
    }

    @Test func handshakeAndChannels() async throws {
        let serverKeys = Ed25519.randomKeyPair(), clientKeys = Ed25519.randomKeyPair()
        let server = SwarmTransport(keyPair: serverKeys), client = SwarmTransport(keyPair: clientKeys)
        let inbox = Inbox()
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { connection in
            inbox.connections.withLock { $0.append(connection) }
        }
        let outgoing = try await client.connect(host: "127.0.0.1", port: port, expectedRemoteKey: serverKeys.publicKey)
        let incoming = try await waitFor("accepted") { inbox.connections.withLock { $0.first } }
        #expect(outgoing.remotePublicKey == serverKeys.publicKey)
        #expect(incoming.remotePublicKey == clientKeys.publicKey)
        #expect(outgoing.handshakeHash == incoming.handshakeHash)
        #expect(outgoing.isInitiator && !incoming.isInitiator)

        // Two channels, messages both ways.
        for name in ["chat/a", "chat/b"] {
            outgoing.open(protocol: name, id: [1, 2, 3], handshake: Array(name.utf8))
            incoming.open(protocol: name, id: [1, 2, 3], handshake: [9])
        }
        outgoing.send(protocol: "chat/a", id: [1, 2, 3], type: 0, message: Array("hello a".utf8))
        outgoing.send(protocol: "chat/b", id: [1, 2, 3], type: 1, message: Array("hello b".utf8))
        incoming.send(protocol: "chat/b", id: [1, 2, 3], type: 2, message: Array("back".utf8))
        var atServer: [String] = []
        for await event in incoming.events {
            switch event {
            case .opened(let name, _, let handshake): atServer.append("open \(name) \(String(decoding: handshake, as: UTF8.self))")
            case .message(let name, _, let type, let message): atServer.append("\(name) \(type) \(String(decoding: message, as: UTF8.self))")
            default: break
            }
            if atServer.count == 4 { break }
        }
        #expect(atServer == ["open chat/a chat/a", "open chat/b chat/b", "chat/a 0 hello a", "chat/b 1 hello b"])
        var atClient: [String] = []
        for await event in outgoing.events {
            if case .message(let name, _, let type, let message) = event {
                atClient.append("\(name) \(type) \(String(decoding: message, as: UTF8.self))")
                break
            }
        }
        #expect(atClient == ["chat/b 2 back"])

        // A large message crosses intact.
        let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        outgoing.send(protocol: "chat/a", id: [1, 2, 3], type: 0, message: big)
        for await event in incoming.events {
            if case .message(_, _, _, let message) = event {
                #expect(message == big)
                break
            }
        }
        outgoing.disconnect()
        for await event in incoming.events where event == .disconnected { break }
        // A clean end on both sides: no error recorded.
        await incoming.waitUntilClosed()
        #expect(incoming.closeError == nil && outgoing.closeError == nil)
        try await listener.close()
        try await server.shutdown()
        try await client.shutdown()
    }

    /// The peer opens first and sends at once; we open later (as the gateway does when it joins a room): the open
    /// is reported once, and the messages sent before we opened arrive after it, in order, in one corked batch.
    /// A congestion control the kernel has (reno is always built in) is set on both ends' sockets and the connection
    /// forms; one it does not have fails the dial with an error naming it, instead of silently running the default
    /// (which would mislabel `pear-bench udx-lossy`'s TCP figures).
    @Test func tcpCongestionControlIsSetOrRefusedWithAnError() async throws {
        let pair = try await connectedPair(
            server: SwarmTransport(keyPair: Ed25519.randomKeyPair(), tcpCongestionControl: "reno"),
            client: SwarmTransport(keyPair: Ed25519.randomKeyPair(), tcpCongestionControl: "reno"))
        #expect(pair.outgoing.handshakeHash == pair.incoming.handshakeHash)
        pair.outgoing.disconnect()
        try await pair.shutDown()

        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { _ in }
        let client = SwarmTransport(keyPair: Ed25519.randomKeyPair(), tcpCongestionControl: "no-such-cc")
        await #expect(throws: SwarmTransportError.congestionControlRefused("no-such-cc", errno: ENOENT)) {
            _ = try await client.connect(host: "127.0.0.1", port: port)
        }
        try await listener.close()
        try await server.shutdown()
        try await client.shutdown()
    }

    @Test func aLaterLocalOpenPairsAndReceivesTheBufferedMessages() async throws {
        let pair = try await connectedPair()
        let (outgoing, incoming) = (pair.outgoing, pair.incoming)
        outgoing.corked { connection in
            connection.open(protocol: "room", id: [4], handshake: [1])
            connection.send(protocol: "room", id: [4], type: 0, message: [10])
            connection.send(protocol: "room", id: [4], type: 0, message: [11])
        }
        var iterator = incoming.events.makeAsyncIterator()
        #expect(await iterator.next() == .opened(protocol: "room", id: [4], handshake: [1]))
        incoming.open(protocol: "room", id: [4], handshake: [2])
        #expect(await iterator.next() == .message(protocol: "room", id: [4], type: 0, message: [10]))
        #expect(await iterator.next() == .message(protocol: "room", id: [4], type: 0, message: [11]))
        var back = outgoing.events.makeAsyncIterator()
        #expect(await back.next() == .opened(protocol: "room", id: [4], handshake: [2]))
        // A channel the other side never opens can be refused; the opener sees it closed.
        outgoing.open(protocol: "unwanted", id: [], handshake: [])
        #expect(await iterator.next() == .opened(protocol: "unwanted", id: [], handshake: []))
        incoming.reject(protocol: "unwanted", id: [])
        #expect(await back.next() == .closed(protocol: "unwanted", id: []))
        // Closing reaches the other side.
        outgoing.close(protocol: "room", id: [4])
        #expect(await iterator.next() == .closed(protocol: "room", id: [4]))
        outgoing.disconnect()
        try await pair.shutDown()
    }

    /// A consumer that does not read its events makes the connection stop reading from the socket at the high
    /// watermark, instead of buffering everything the peer sends; once it reads, everything arrives in order.
    @Test func aSlowConsumerHoldsBackReadsInsteadOfBuffering() async throws {
        let pair = try await connectedPair()
        let (outgoing, incoming) = (pair.outgoing, pair.incoming)
        Bulk.open(pair)
        let count = 320, size = 64 * 1024  // 20 MiB, five times the high watermark
        Bulk.send(count: count, size: size, on: outgoing)
        // Reading stops once 4 MiB wait unconsumed; without flow control all 20 MiB would pile up here.
        _ = try await waitFor("reads held back") { incoming.isHoldingBackReads ? true : nil }
        let held = incoming.unconsumedEventBytes
        #expect(held >= 4 * 1024 * 1024)
        #expect(held < 6 * 1024 * 1024, "buffered \(held) bytes of events")
        let received = await Bulk.receive(count: count, size: size, from: incoming)
        #expect(received == count)
        #expect(incoming.unconsumedEventBytes == 0)
        outgoing.disconnect()
        try await pair.shutDown()
    }

    /// A sender that awaits `writable()` before each send is parked once the reader stops consuming, with at most
    /// the high watermark (plus one message) unwritten; when the reader catches up it resumes and everything
    /// arrives in order.
    @Test func aSenderAwaitingWritableIsParkedWhileTheReaderLags() async throws {
        let pair = try await connectedPair()
        let (outgoing, incoming) = (pair.outgoing, pair.incoming)
        Bulk.open(pair)
        let count = 1024, size = 64 * 1024  // 64 MiB: without waiting, this would hit the 64 MiB write limit
        let sent = Atomic<Int>(0)
        let writer = Task {
            for index in 0..<count {
                await outgoing.writable()
                outgoing.send(protocol: "bulk", id: [], type: 0, message: Bulk.message(index, size: size))
                sent.add(1, ordering: .relaxed)
            }
        }
        _ = try await waitFor("reads held back and the writer parked") {
            incoming.isHoldingBackReads && outgoing.parkedWriters == 1 ? true : nil
        }
        #expect(sent.load(ordering: .relaxed) < count)
        #expect(outgoing.unwrittenBytes <= 1024 * 1024 + size + 64, "unwritten \(outgoing.unwrittenBytes)")
        let received = await Bulk.receive(count: count, size: size, from: incoming)
        await writer.value
        #expect(received == count && sent.load(ordering: .relaxed) == count)
        #expect(outgoing.closeError == nil)
        outgoing.end()
        await incoming.waitUntilClosed()
        #expect(incoming.closeError == nil)
        try await pair.shutDown()
    }

    /// `end()` right after a burst of sends still delivers every frame, then ends cleanly on both sides; the
    /// receiver holds back reads meanwhile, so most of the burst is still unwritten when `end()` is called.
    @Test func endWritesOutWhatWasSentThenClosesCleanly() async throws {
        let pair = try await connectedPair()
        let (outgoing, incoming) = (pair.outgoing, pair.incoming)
        Bulk.open(pair)
        let count = 256, size = 64 * 1024
        Bulk.send(count: count, size: size, on: outgoing)
        outgoing.end()
        // Sent after end: never goes out.
        outgoing.send(protocol: "bulk", id: [], type: 1, message: [0xff])
        _ = try await waitFor("reads held back") { incoming.isHoldingBackReads ? true : nil }
        var received = 0, sawLate = false, sawDisconnect = false
        for await event in incoming.events {
            switch event {
            case .message(_, _, let type, let message):
                if type == 1 { sawLate = true; continue }
                #expect(message == Bulk.message(received, size: size))
                received += 1
            case .disconnected: sawDisconnect = true
            default: break
            }
        }
        #expect(received == count)
        #expect(!sawLate && sawDisconnect)
        await outgoing.waitUntilClosed()
        #expect(incoming.closeError == nil && outgoing.closeError == nil)
        try await pair.shutDown()
    }

    /// While reads are held back for a slow consumer, the peer's silence is ours: the idle timeout must not fire.
    @Test func holdingBackReadsDoesNotCountAsAnIdlePeer() async throws {
        let pair = try await connectedPair(
            // The client's keep-alives keep the connection alive until reads are held back (a loaded machine can
            // take longer than one idle period to get there); once held back, they are not read either, so only the
            // hold-back itself can keep the connection open.
            server: SwarmTransport(keyPair: Ed25519.randomKeyPair(), keepAlive: nil, idleTimeout: .milliseconds(600)),
            client: SwarmTransport(keyPair: Ed25519.randomKeyPair(), keepAlive: .milliseconds(100), idleTimeout: nil))
        let (outgoing, incoming) = (pair.outgoing, pair.incoming)
        Bulk.open(pair)
        let count = 160, size = 64 * 1024
        Bulk.send(count: count, size: size, on: outgoing)
        _ = try await waitFor("reads held back") {
            if let error = incoming.closeError { throw error }
            return incoming.isHoldingBackReads ? true : nil
        }
        // Three idle timeouts without consuming: what is being tested is that nothing happens meanwhile.
        try await Task.sleep(for: .milliseconds(1800))
        #expect(incoming.closeError == nil)
        let received = await Bulk.receive(count: count, size: size, from: incoming)
        #expect(received == count && incoming.closeError == nil)
        outgoing.end()
        try await pair.shutDown()
    }

    /// `end()` inside a corked block takes effect at the uncork, so the batch still goes out first.
    @Test func endWhileCorkedStillSendsTheBatch() async throws {
        let pair = try await connectedPair()
        let (outgoing, incoming) = (pair.outgoing, pair.incoming)
        outgoing.corked { connection in
            connection.open(protocol: "last", id: [], handshake: [1])
            connection.send(protocol: "last", id: [], type: 0, message: [2])
            connection.end()
        }
        var events: [PeerEvent] = []
        for await event in incoming.events { events.append(event) }
        #expect(events.first == .opened(protocol: "last", id: [], handshake: [1]))
        #expect(events.last == .disconnected)
        incoming.open(protocol: "last", id: [], handshake: [])
        await incoming.waitUntilClosed()
        #expect(incoming.closeError == nil)
        try await pair.shutDown()
    }

    @Test func aPeerWithTheWrongKeyIsRefused() async throws {
        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair()), client = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { _ in }
        await #expect(throws: SwarmConnectionError.unexpectedRemoteKey) {
            try await client.connect(host: "127.0.0.1", port: port, expectedRemoteKey: Ed25519.randomKeyPair().publicKey)
        }
        try await listener.close()
        try await server.shutdown()
        try await client.shutdown()
    }

    @Test func garbageAndHugeLengthPrefixesCloseTheConnection() async throws {
        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let accepted = Inbox()
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { connection in
            accepted.connections.withLock { $0.append(connection) }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for payload in [[0x00, 0x00, 0x00, 0x01] as [UInt8], [0xff, 0xff, 0xff] + [UInt8](repeating: 7, count: 64),
                        [0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 32)] {
            let raw = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            try await raw.writeAndFlush(ByteBuffer(bytes: payload)).get()
            // The server must hang up (bad handshake or oversized frame), never accept or hang.
            try await raw.closeFuture.get()
        }
        #expect(accepted.connections.withLock { $0.isEmpty })
        try await listener.close()
        try await server.shutdown()
        try await group.shutdownGracefully()
    }

    /// Waits for `connection` to close, or fails after `timeout`.
    func closes(_ connection: SwarmConnection, within timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await connection.waitUntilClosed(); return true }
            group.addTask { try? await Task.sleep(for: timeout); return false }
            let first = await group.next() ?? false
            group.cancelAll()
            connection.disconnect()
            return first
        }
    }

    @Test func aSilentPeerIsDisconnectedAndKeepAlivesPreventIt() async throws {
        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair(), keepAlive: nil, idleTimeout: .milliseconds(300))
        let silent = SwarmTransport(keyPair: Ed25519.randomKeyPair(), keepAlive: nil, idleTimeout: nil)
        let chatty = SwarmTransport(keyPair: Ed25519.randomKeyPair(), keepAlive: .milliseconds(50), idleTimeout: nil)
        let inbox = Inbox()
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { connection in
            inbox.connections.withLock { $0.append(connection) }
        }
        // A peer that never sends anything is dropped after the idle timeout.
        let quiet = try await silent.connect(host: "127.0.0.1", port: port)
        #expect(await closes(quiet, within: .seconds(5)))

        // A peer whose keep-alives arrive is not, even after several idle periods.
        let alive = try await chatty.connect(host: "127.0.0.1", port: port)
        let accepted = try await waitFor("second connection") { inbox.connections.withLock { $0.count == 2 ? $0[1] : nil } }
        let early = await closes(alive, within: .milliseconds(1200)) // returns false: still open after 1.2 s
        #expect(!early)
        _ = accepted
        try await listener.close()
        for transport in [server, silent, chatty] { try await transport.shutdown() }
    }
}
