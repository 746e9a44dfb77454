import Sodium
import Synchronization

/// Connects two replication drivers inside one process; messages cross as encoded bytes, exactly as they would
/// over a connection. Used by tests (with injected faults), by the benchmark, and for local store-to-store copies.
public final class ReplicationLoopback: Sendable {
    /// Faults injected at the session boundary, for tests.
    public struct Faults: Sendable {
        /// Deliver every message twice.
        public var duplicate = false
        /// Deliver each burst in reverse order.
        public var reorder = false
        /// Rewrites every message the initiator sends.
        public var tamperFromInitiator: (@Sendable (ReplicationMessage) -> ReplicationMessage)?

        public init() {}
    }

    /// Encoded messages waiting in each direction.
    final class Queues: Sendable {
        let state = Mutex<(toInitiator: [(UInt64, [UInt8])], toResponder: [(UInt64, [UInt8])])>(([], []))
        let faults: Faults

        init(faults: Faults) { self.faults = faults }

        func send(toResponder: Bool, _ messages: [ReplicationMessage]) {
            let wire = messages.map { message -> (UInt64, [UInt8]) in
                let message = toResponder ? (faults.tamperFromInitiator?(message) ?? message) : message
                return (message.type, message.encoded())
            }
            let delivered = faults.duplicate ? wire.flatMap { [$0, $0] } : wire
            state.withLock { queues in
                if toResponder { queues.toResponder += delivered } else { queues.toInitiator += delivered }
            }
        }

        func drain() -> (toInitiator: [ReplicationMessage], toResponder: [ReplicationMessage]) {
            let (a, b) = state.withLock { queues in
                defer { queues = ([], []) }
                return (queues.toInitiator, queues.toResponder)
            }
            func decode(_ wire: [(UInt64, [UInt8])]) -> [ReplicationMessage] {
                // Undecodable bytes are dropped, as a real connection's frame decoder would refuse them.
                let messages = wire.compactMap { try? ReplicationMessage(type: $0.0, bytes: $0.1) }
                return faults.reorder ? messages.reversed() : messages
            }
            return (decode(a), decode(b))
        }
    }

    public let initiator: ReplicationDriver
    public let responder: ReplicationDriver
    let queues: Queues

    private init(initiator: ReplicationDriver, responder: ReplicationDriver, queues: Queues) {
        self.initiator = initiator
        self.responder = responder
        self.queues = queues
    }

    /// Opens a channel between two logs of the same core, as over a fresh connection (a new random handshake
    /// hash each time).
    public static func connect(
        initiator initiatorLog: SignedLog, responder responderLog: SignedLog, faults: Faults = Faults(),
        configuration: ReplicationSession.Configuration = .init()
    ) async throws -> ReplicationLoopback {
        let queues = Queues(faults: faults)
        let handshakeHash = RandomBytes.generate(count: 64)
        let initiator = try await ReplicationDriver(
            log: initiatorLog, handshakeHash: handshakeHash, isInitiator: true, configuration: configuration
        ) { queues.send(toResponder: true, $0) }
        let responder = try await ReplicationDriver(
            log: responderLog, handshakeHash: handshakeHash, isInitiator: false, configuration: configuration
        ) { queues.send(toResponder: false, $0) }
        await initiator.remoteOpened(responder.handshake)
        await responder.remoteOpened(initiator.handshake)
        return ReplicationLoopback(initiator: initiator, responder: responder, queues: queues)
    }

    /// Delivers queued messages, a burst per direction at a time, until `done` holds, `maximumRounds` bursts
    /// were delivered, or `timeout` passes. Returns whether `done` held.
    @discardableResult
    public func pump(
        maximumRounds: Int = .max, timeout: Duration = .seconds(30), until done: () async -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        var rounds = 0
        while ContinuousClock.now < deadline, rounds < maximumRounds {
            if await done() { return true }
            let (toInitiator, toResponder) = queues.drain()
            if !toResponder.isEmpty { await responder.receive(toResponder) }
            if !toInitiator.isEmpty { await initiator.receive(toInitiator) }
            if toInitiator.isEmpty && toResponder.isEmpty { await Task.yield() }
            rounds += 1
        }
        return await done()
    }

    /// Stops both drivers following their logs.
    public func stop() async {
        await initiator.stop()
        await responder.stop()
    }
}
