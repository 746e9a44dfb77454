import Logging
import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import Synchronization
import Testing

/// A listener bounds what strangers can make it hold, and a connect/close loop does not flood the log.
@Suite(.serialized) struct InboundPeerAdmissionTests {
    /// Keeps every message logged through it.
    struct CollectingLogHandler: LogHandler {
        let log: Log
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.messages.withLock { $0.append("\(event.level) \(event.message)") }
        }
    }

    final class Log: Sendable {
        let messages = Mutex<[String]>([])
        var logger: Logger {
            Logger(label: "test") { _ in CollectingLogHandler(log: self) }
        }
        var warnings: [String] { messages.withLock { $0.filter { $0.hasPrefix("warning") } } }
    }

    @Test func aThousandFailedHandshakesGiveOneLogLine() async throws {
        let log = Log()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let transport = SwarmTransport(keyPair: Ed25519.randomKeyPair(), logger: log.logger, group: group)
        let port = try await transport.listen(host: "127.0.0.1", port: 0) { _ in }
        // Connect and close at once, a thousand times: each is a handshake that never completes.
        for _ in 0..<1_000 {
            let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            // The listener may have closed this connection first; NIO then reports exactly `alreadyClosed`.
            do { try await channel.close() } catch ChannelError.alreadyClosed {}
        }
        // Every one was counted before the listener settles (none pending, none open).
        let deadline = ContinuousClock.now + .seconds(30)
        while transport.inbound.current != (0, 0), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(transport.inbound.current == (0, 0))
        #expect(log.warnings.count == 1, "\(log.warnings.prefix(3))")
        #expect(log.warnings.first?.contains("incoming peer connections failed or refused") == true)
        try await transport.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func handshakesAndConnectionsBeyondTheLimitsAreClosed() async throws {
        let log = Log()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var limits = InboundPeerAdmission.Limits()
        limits.pendingHandshakes = 2
        limits.connections = 1
        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair(), inboundLimits: limits, logger: log.logger, group: group)
        let accepted = Mutex<[SwarmConnection]>([])
        let port = try await server.listen(host: "127.0.0.1", port: 0) { (connection: SwarmConnection) in
            accepted.withLock { $0.append(connection) }
        }.1
        // Two silent connections fill the handshake slots; a third is closed at once.
        var silent: [any Channel] = []
        for _ in 0..<2 { silent.append(try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()) }
        let deadline = ContinuousClock.now + .seconds(10)
        while server.inbound.current.pending < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let third = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        try await third.closeFuture.get()
        for channel in silent { try await channel.close() }
        while server.inbound.current.pending > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }

        // One real peer is admitted; a second is closed after its handshake (one connection allowed).
        let client = SwarmTransport(keyPair: Ed25519.randomKeyPair(), logger: log.logger, group: group)
        let first = try await client.connect(host: "127.0.0.1", port: port)
        while accepted.withLock({ $0.count }) < 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(server.inbound.current.open == 1)
        // Closed by the listener as its side of the handshake completes: the dialler sees the end during or right
        // after its own.
        if let second = try? await client.connect(host: "127.0.0.1", port: port) { await second.waitUntilClosed() }
        #expect(accepted.withLock { $0.count } == 1)
        _ = first
        try await client.shutdown()
        try await server.shutdown()
        try await group.shutdownGracefully()
    }
}
