import Logging
import Synchronization

/// Bounds what strangers can make a listening node hold: connections still in their handshake (each costs a Noise
/// exchange) and established inbound connections. Failed handshakes are counted and logged at most once a minute
/// with the count, so a connect/close loop does not become a flood of log lines.
public final class InboundPeerAdmission: Sendable {
    public struct Limits: Sendable {
        public var pendingHandshakes = 64
        public var connections = 256
        public init() {}
    }

    private struct Counts {
        var pending = 0
        var open = 0
        var failedSinceReport = 0
        var refusedSinceReport = 0
        var lastReport: ContinuousClock.Instant?
    }

    public let limits: Limits
    private let counts = Mutex(Counts())
    private let logger: Logger

    public init(limits: Limits = Limits(), logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    /// A connection arrived: whether its handshake may start (else it is closed at once).
    func beginHandshake() -> Bool {
        let admitted = counts.withLock { counts -> Bool in
            guard counts.pending < limits.pendingHandshakes, counts.open < limits.connections else {
                counts.refusedSinceReport += 1
                return false
            }
            counts.pending += 1
            return true
        }
        if !admitted { report() }
        return admitted
    }

    /// The handshake finished: whether the connection may be used (else it is closed). A connection admitted here
    /// must be reported `closed()` when it ends.
    func handshakeSucceeded() -> Bool {
        let admitted = counts.withLock { counts -> Bool in
            counts.pending -= 1
            guard counts.open < limits.connections else {
                counts.refusedSinceReport += 1
                return false
            }
            counts.open += 1
            return true
        }
        if !admitted { report() }
        return admitted
    }

    func handshakeFailed() {
        counts.withLock {
            $0.pending -= 1
            $0.failedSinceReport += 1
        }
        report()
    }

    func closed() {
        counts.withLock { $0.open -= 1 }
    }

    /// Established inbound connections and handshakes under way (tests, diagnostics).
    public var current: (open: Int, pending: Int) {
        counts.withLock { ($0.open, $0.pending) }
    }

    private func report() {
        let due = counts.withLock { counts -> (failed: Int, refused: Int)? in
            let now = ContinuousClock.now
            if let last = counts.lastReport, now - last < .seconds(60) { return nil }
            guard counts.failedSinceReport + counts.refusedSinceReport > 0 else { return nil }
            counts.lastReport = now
            defer { counts.failedSinceReport = 0; counts.refusedSinceReport = 0 }
            return (counts.failedSinceReport, counts.refusedSinceReport)
        }
        guard let due else { return }
        logger.warning(
            "incoming peer connections failed or refused",
            metadata: ["failed handshakes": "\(due.failed)", "refused (limits)": "\(due.refused)", "per": "minute at most"])
    }
}
