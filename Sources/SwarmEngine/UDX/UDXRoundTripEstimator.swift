/// The retransmission timeout of a UDX stream, computed as libudx computes it (`ack_packet` and `clamp_rtt` in
/// src/udx.c at the commit udx-native 1.20.7 pins): RFC 6298's smoothed RTT and variance from samples of packets that
/// were sent once, an RTO of `srtt + 4·rttvar` bounded to [1 s, 30 s], and samples above 5 s that are also outliers
/// (beyond `srtt + 5·rttvar`) clamped, because a suspended laptop's first ack would otherwise set a huge timeout.
/// Times are whole milliseconds, libuv's clock; as in libudx a smoothed RTT of 0 means "no sample yet".
struct UDXRoundTripEstimator: Sendable {
    static let initialTimeout: UInt64 = 1000
    static let minimumTimeout: UInt64 = 1000
    static let maximumTimeout: UInt64 = 30_000
    static let maximumSample: UInt64 = 30_000
    /// How long the minimum RTT is remembered (`UDX_RTT_MIN_WINDOW_MS`, Linux's default too).
    static let minimumWindow: UInt64 = 300_000

    private(set) var smoothed: UInt64 = 0
    private(set) var variance: UInt64 = 0
    private(set) var timeout: UInt64 = initialTimeout
    /// The smallest sample of the last five minutes (RACK's min_RTT); `UInt32.max` before the first, as in libudx.
    private var minimum = UDXWindowedFilter<UInt64>(.minimum, time: 0, value: UInt64(UInt32.max))

    var minimumRTT: UInt64 { minimum.best }

    /// The sample a packet sent at `sentAt` and acknowledged at `now` gives, clamped as libudx clamps it.
    func sample(sentAt: UInt64, now: UInt64) -> UInt64 {
        let rtt = now >= sentAt ? now - sentAt : 0
        if smoothed == 0 { return min(rtt, Self.maximumSample) }
        let outlier = smoothed + 5 * variance
        if rtt > outlier && rtt > 5000 { return min(outlier, Self.maximumSample) }
        return rtt
    }

    /// Takes a sample from a packet that was never retransmitted (Karn's rule: the caller checks).
    mutating func record(_ rtt: UInt64, now: UInt64) {
        minimum.apply(rtt, at: now, window: Self.minimumWindow)
        if smoothed == 0 {
            smoothed = rtt
            variance = rtt / 2
        } else {
            let delta = rtt < smoothed ? smoothed - rtt : rtt - smoothed
            variance = (3 * variance + delta) / 4
            smoothed = (7 * smoothed + rtt) / 8
        }
        timeout = min(max(smoothed + 4 * variance, Self.minimumTimeout), Self.maximumTimeout)
    }
}
