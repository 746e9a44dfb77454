/// How many packets a UDX stream may have in flight: the sender's own choice, invisible on the wire (a libudx peer
/// cannot tell which algorithm its peer runs; holepunch-notes §1.5).
///
/// This is NewReno in packets (RFC 5681 / 6582): slow start from libudx's initial window of 10 packets and its
/// initial threshold of 0xffff, one packet per window in congestion avoidance, the window halved once per recovery
/// episode and reset to one packet after a retransmission timeout. libudx itself runs BBR v1 since udx-native 1.19
/// (src/udx_bbr.c); porting it, with pacing, is the next step of issue 15 and will replace this type behind the same
/// calls.
struct UDXCongestionWindow: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        /// No loss outstanding.
        case open
        /// Fast recovery: losses found by RACK are being repaired; ends once everything sent before it is acked.
        case recovery
        /// After a retransmission timeout, until everything sent before it is acked.
        case loss
    }

    static let initialWindow = 10
    static let initialThreshold = 0xffff
    /// An upper bound so that a long clean run cannot grow the window without limit (the receive window and the
    /// send buffer bound it first in practice).
    static let maximumWindow = 65_536

    private(set) var window = initialWindow
    private(set) var threshold = initialThreshold
    private(set) var phase = Phase.open
    /// Recovery (or loss) ends when the cumulative ack passes this seq: the next seq at the time it started.
    private(set) var recoveryEnd: UInt32 = 0
    private var acknowledgedInAvoidance = 0

    var isRecovering: Bool { phase != .open }

    /// `delivered` packets were newly acknowledged (cumulatively or selectively) by an ack up to `ack`.
    mutating func acknowledged(_ delivered: Int, cumulativeAck ack: UInt32) {
        if phase != .open, UDXSequence.isAfter(ack, recoveryEnd) {
            if phase == .recovery { window = max(threshold, 2) }
            phase = .open
        }
        guard delivered > 0, phase == .open else { return }
        if window < threshold {
            window = min(window + delivered, Self.maximumWindow)
        } else {
            acknowledgedInAvoidance += delivered
            while acknowledgedInAvoidance >= window {
                acknowledgedInAvoidance -= window
                window = min(window + 1, Self.maximumWindow)
            }
        }
    }

    /// RACK found lost packets while the stream was open: one reduction per episode.
    mutating func lossDetected(nextSequence: UInt32, inFlight: Int) {
        guard phase == .open else { return }
        threshold = max(max(window, inFlight) / 2, 2)
        window = threshold
        acknowledgedInAvoidance = 0
        phase = .recovery
        recoveryEnd = nextSequence
    }

    /// The retransmission timer fired: everything in flight is presumed lost.
    mutating func timedOut(nextSequence: UInt32) {
        if phase == .open || phase == .recovery { threshold = max(window / 2, 2) }
        window = 1
        acknowledgedInAvoidance = 0
        phase = .loss
        recoveryEnd = nextSequence
    }
}
