/// How long to wait before dialling a peer again: exponential back-off with jitter, so a peer that is down is not
/// hammered and many gateways that lost the same peer do not all redial at the same moment.
public struct RetrySchedule: Sendable, Hashable {
    /// The wait after the first failure (and after a connection that worked closes).
    public var initial: Duration
    /// The longest wait.
    public var maximum: Duration
    /// Each failure multiplies the wait by this much.
    public var factor: Double
    /// Up to this fraction of the wait is added at random.
    public var jitter: Double

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60), factor: Double = 2, jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
    }

    /// The wait after `failures` failed attempts in a row (0: the first try after a connection closed), with `random`
    /// in 0..<1 choosing the jitter.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        let cap = Self.seconds(maximum)
        var grown = Self.seconds(initial)
        var remaining = max(0, failures)
        while remaining > 0, grown < cap {
            grown *= factor
            remaining -= 1
        }
        let jittered = min(cap, min(cap, grown) * (1 + jitter * min(max(random, 0), 1)))
        return .milliseconds(Int64(jittered * 1000))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
