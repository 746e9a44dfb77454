import CompactEncoding

/// How many requests a node answers per sender (our addition: dht-rpc answers everything and bounds only what it
/// sends). Each sender address gets a token bucket — `rate` requests per second, `burst` at once — and a request
/// without a token is dropped unanswered, so one address cannot make the node work, or send, without limit. The
/// table of senders is bounded (`maximumSenders`; the longest idle goes first), so a flood from many addresses costs
/// bounded memory too.
public struct DHTRequestLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    public let maximumSenders: Int
    private var buckets: [IPv4Endpoint: (tokens: Double, last: UInt64)] = [:]
    public private(set) var dropped = 0
    public private(set) var answered = 0

    public init(rate: Double = 100, burst: Double = 200, maximumSenders: Int = 10_000) {
        self.rate = rate
        self.burst = burst
        self.maximumSenders = maximumSenders
    }

    public var senderCount: Int { buckets.count }

    /// Whether a request from `sender` at `now` (milliseconds) may be answered.
    public mutating func allows(_ sender: IPv4Endpoint, now: UInt64) -> Bool {
        var bucket = buckets[sender] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + Double(now &- bucket.last) / 1000 * rate)
        bucket.last = now
        let allowed = bucket.tokens >= 1
        if allowed {
            bucket.tokens -= 1
            answered += 1
        } else {
            dropped += 1
        }
        if buckets[sender] == nil, buckets.count >= maximumSenders { evictIdlest() }
        buckets[sender] = bucket
        return allowed
    }

    private mutating func evictIdlest() {
        // Rare (the table is full of distinct senders): one pass to find the sender idle the longest.
        guard let idlest = buckets.min(by: { $0.value.last < $1.value.last })?.key else { return }
        buckets[idlest] = nil
    }
}
