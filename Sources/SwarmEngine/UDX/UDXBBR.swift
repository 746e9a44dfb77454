/// BBR v1 congestion control as libudx runs it since udx-native 1.19 (src/udx_bbr.c at 759bf76, itself after Linux's
/// tcp_bbr.c): from one delivery-rate sample per ack it keeps a windowed maximum of the bandwidth (over 10 rounds)
/// and a windowed minimum RTT (over 10 s), paces at `gain × bandwidth` and caps the window at `gain × bandwidth ×
/// min RTT`, in packets. STARTUP doubles the rate each round until the bandwidth stops growing by 25 % for 3 rounds,
/// DRAIN empties the queue that built, PROBE_BW cycles the pacing gain through 1.25, 0.75 and six rounds of 1, and
/// PROBE_RTT drops to 4 packets for 200 ms when the min RTT is 10 s old. Random loss does not shrink the window (only
/// packet conservation during recovery), which is what keeps a lossy path's goodput up.
///
/// Units are libudx's: bandwidth in packets per millisecond, times in milliseconds, windows in packets.
struct UDXBBR: Sendable {
    enum Mode: Sendable, Equatable { case startup, drain, probeBandwidth, probeRTT }

    /// The congestion state the stream is in (libudx's `ca_state`), which BBR reads.
    enum CongestionState: Int, Sendable, Comparable {
        case open = 1, recovery = 2, loss = 3
        static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    /// What BBR reads and sets on the stream.
    struct Link {
        var window: UInt32
        var slowStartThreshold: UInt32
        var pacingBytesPerMillisecond: UInt64
        var appLimited: UInt32
        let inflight: UInt32
        let delivered: UInt32
        let deliveredAt: UInt64
        let smoothedRTT: UInt64
        let congestionState: CongestionState
        let payloadSize: Int
        let now: UInt64
    }

    static let cycleLength = 8
    static let minimumRTTInterval: UInt64 = 10_000
    static let probeRTTDuration: UInt64 = 200
    static let pacingMargin = 0.99
    static let highGain = 2.88539
    static let drainGain = 1 / 2.88539
    static let windowGain = 2.0
    static let pacingGainCycle: [Double] = [1.25, 0.75, 1, 1, 1, 1, 1, 1]
    static let minimumWindow: UInt32 = 4
    static let fullBandwidthThreshold = 1.25
    static let fullBandwidthRounds: UInt32 = 3
    static let extraAckedGain = 1.0
    static let extraAckedWindowRounds: UInt32 = 5
    static let extraAckedMaximum: UInt64 = 100

    private(set) var mode = Mode.startup
    private var priorWindow: UInt32 = 0
    private var roundCount: UInt64 = 0
    private var nextRoundDelivered: UInt32
    private var previousState = CongestionState.open
    private var packetConservation = false
    private var probeRTTDoneAt: UInt64 = 0
    private var probeRTTRoundDone = false
    private(set) var minimumRTT: UInt32
    private var minimumRTTStamp: UInt64
    private var bandwidth: UDXWindowedFilter<Double>
    private var hasSeenRTT = false
    private var roundStart = false
    private var idleRestart = false
    private(set) var fullBandwidthReached = false
    private var fullBandwidth = 0.0
    private var fullBandwidthCount: UInt32 = 0
    private var cycleStamp: UInt64 = 0
    private var cycleIndex = 0
    private(set) var pacingGain = UDXBBR.highGain
    private var windowGain = UDXBBR.highGain
    private var ackEpochStart: UInt64
    private var ackEpochAcked: UInt32 = 0
    private var extraAckedWindowRoundsSoFar: UInt32 = 0
    private var extraAckedIndex = 0
    private var extraAcked: [UInt32] = [0, 0]

    /// libudx's `bbr_init`: `minimumRTT` is the stream's RACK minimum (0 before any sample, as there).
    init(link: inout Link, minimumRTT: UInt64) {
        nextRoundDelivered = link.delivered
        self.minimumRTT = UInt32(clamping: minimumRTT)
        minimumRTTStamp = link.now
        bandwidth = UDXWindowedFilter(.maximum, time: 0, value: 0)
        ackEpochStart = link.now
        link.slowStartThreshold = 0xffff
        initialisePacingRate(&link)
    }

    /// The bandwidth estimate, packets per millisecond.
    var estimatedBandwidth: Double { bandwidth.best }

    // MARK: - Hooks the stream calls

    /// Once per ack that acknowledged or lost something while data was in flight (`bbr_main`).
    mutating func update(_ sample: UDXRateSample, link: inout Link) {
        updateBandwidth(sample, link: link)
        updateAckAggregation(sample, link: link)
        updateCyclePhase(sample, link: link)
        checkFullBandwidth(sample)
        checkDrain(link: &link)
        updateMinimumRTT(sample, link: &link)
        updateGains()
        setPacingRate(bandwidth.best, gain: pacingGain, link: &link)
        setWindow(sample, acked: sample.ackedSacked, bandwidth: bandwidth.best, gain: windowGain, link: &link)
    }

    /// Sending resumes after nothing was in flight (`bbr_on_transmit_start`).
    mutating func transmitStarted(link: inout Link) {
        guard link.appLimited != 0 else { return }
        idleRestart = true
        ackEpochStart = link.now
        ackEpochAcked = 0
        if mode == .probeBandwidth {
            setPacingRate(bandwidth.best, gain: 1, link: &link)
        } else if mode == .probeRTT {
            checkProbeRTTDone(link: &link)
        }
    }

    /// A retransmission timeout (`bbr_on_rto`): a dummy loss sample.
    mutating func retransmissionTimedOut() {
        previousState = .loss
        fullBandwidth = 0
        roundStart = true
    }

    // MARK: - The model

    private func pacingRate(_ bandwidth: Double, gain: Double, payloadSize: Int) -> UInt64 {
        let rate = bandwidth * Double(payloadSize) * gain * Self.pacingMargin
        return max(UInt64(max(rate, 0).rounded(.down)), 1)
    }

    private mutating func initialisePacingRate(_ link: inout Link) {
        var rtt: UInt64 = 1
        if link.smoothedRTT > 0 {
            rtt = link.smoothedRTT
            hasSeenRTT = true
        }
        let bandwidth = Double(link.window) / Double(rtt)
        link.pacingBytesPerMillisecond = pacingRate(bandwidth, gain: Self.highGain, payloadSize: link.payloadSize)
    }

    private mutating func setPacingRate(_ bandwidth: Double, gain: Double, link: inout Link) {
        let rate = pacingRate(bandwidth, gain: gain, payloadSize: link.payloadSize)
        if !hasSeenRTT, link.smoothedRTT > 0 { initialisePacingRate(&link) }
        if fullBandwidthReached || rate > link.pacingBytesPerMillisecond { link.pacingBytesPerMillisecond = rate }
    }

    private mutating func saveWindow(link: Link) {
        if previousState < .recovery, mode != .probeRTT {
            priorWindow = link.window
        } else {
            priorWindow = max(priorWindow, link.window)
        }
    }

    private func bandwidthDelayProduct(_ bandwidth: Double, gain: Double) -> UInt32 {
        guard minimumRTT != .max else { return 10 }
        return UInt32(clamping: Int64((bandwidth * Double(minimumRTT) * gain).rounded(.down)))
    }

    private func ackAggregationWindow() -> UInt32 {
        guard Self.extraAckedGain > 0, fullBandwidthReached else { return 0 }
        let maximum = UInt32(clamping: Int64((bandwidth.best * Double(Self.extraAckedMaximum)).rounded(.down)))
        let aggregation = UInt32(Self.extraAckedGain * Double(max(extraAcked[0], extraAcked[1])))
        return min(aggregation, maximum)
    }

    /// Packet conservation in recovery, and the window restored after it (`bbr_set_cwnd_to_recover_or_restore`).
    private mutating func recoverOrRestore(_ sample: UDXRateSample, acked: UInt32, link: Link) -> (UInt32, Bool) {
        var window = link.window
        if sample.losses > 0 { window = UInt32(max(Int64(window) - Int64(sample.losses), 1)) }
        let state = link.congestionState
        if state == .recovery, previousState != .recovery {
            packetConservation = true
            nextRoundDelivered = link.delivered
            window = link.inflight &+ acked
        } else if previousState >= .recovery, state == .open {
            window = max(window, priorWindow)
            packetConservation = false
        }
        previousState = state
        if packetConservation { return (max(window, link.inflight &+ acked), true) }
        return (window, false)
    }

    private mutating func setWindow(
        _ sample: UDXRateSample, acked: UInt32, bandwidth: Double, gain: Double, link: inout Link
    ) {
        var window = link.window
        if acked > 0 {
            let (recovered, conserving) = recoverOrRestore(sample, acked: acked, link: link)
            window = recovered
            if !conserving {
                let target = bandwidthDelayProduct(bandwidth, gain: gain) &+ ackAggregationWindow()
                if fullBandwidthReached {
                    window = min(window &+ acked, target)
                } else if window < target || link.delivered < 10 {
                    window = window &+ acked
                }
                window = max(window, Self.minimumWindow)
            }
        }
        link.window = window
        if mode == .probeRTT { link.window = min(link.window, Self.minimumWindow) }
    }

    private func isNextCyclePhase(_ sample: UDXRateSample, link: Link) -> Bool {
        let fullLength = (link.deliveredAt > cycleStamp ? link.deliveredAt - cycleStamp : 0) > UInt64(minimumRTT)
        if pacingGain == 1 { return fullLength }
        let inflight = link.inflight
        if pacingGain > 1 {
            return fullLength
                && (sample.losses > 0 || inflight > bandwidthDelayProduct(bandwidth.best, gain: pacingGain))
        }
        return fullLength || inflight <= bandwidthDelayProduct(bandwidth.best, gain: 1)
    }

    private mutating func advanceCyclePhase(link: Link) {
        cycleIndex = (cycleIndex + 1) & (Self.cycleLength - 1)
        cycleStamp = link.deliveredAt
    }

    private mutating func updateCyclePhase(_ sample: UDXRateSample, link: Link) {
        if mode == .probeBandwidth, isNextCyclePhase(sample, link: link) { advanceCyclePhase(link: link) }
    }

    private mutating func enterProbeBandwidth(link: Link) {
        mode = .probeBandwidth
        // libudx starts every stream at the same phase (Linux draws it at random).
        cycleIndex = 3
        advanceCyclePhase(link: link)
    }

    private mutating func resetMode(link: Link) {
        if fullBandwidthReached { enterProbeBandwidth(link: link) } else { mode = .startup }
    }

    private mutating func updateBandwidth(_ sample: UDXRateSample, link: Link) {
        roundStart = false
        guard sample.delivered > 0, sample.interval > 0 else { return }
        if UDXSequence.difference(sample.priorDelivered, nextRoundDelivered) >= 0 {
            nextRoundDelivered = link.delivered
            roundCount += 1
            roundStart = true
            packetConservation = false
        }
        let measured = Double(sample.delivered) / Double(sample.interval)
        if !sample.isAppLimited || measured >= bandwidth.best {
            bandwidth.apply(measured, at: roundCount, window: UInt64(Self.cycleLength + 2))
        }
    }

    private mutating func updateAckAggregation(_ sample: UDXRateSample, link: Link) {
        guard Self.extraAckedGain > 0, sample.ackedSacked > 0, sample.delivered >= 0, sample.interval > 0 else {
            return
        }
        if roundStart {
            extraAckedWindowRoundsSoFar = min(0xff, extraAckedWindowRoundsSoFar + 1)
            if extraAckedWindowRoundsSoFar >= Self.extraAckedWindowRounds {
                extraAckedWindowRoundsSoFar = 0
                extraAckedIndex = extraAckedIndex == 0 ? 1 : 0
                extraAcked[extraAckedIndex] = 0
            }
        }
        let epoch = link.deliveredAt > ackEpochStart ? link.deliveredAt - ackEpochStart : 0
        var expected = UInt32(clamping: Int64((bandwidth.best * Double(epoch)).rounded(.down)))
        if ackEpochAcked <= expected || UInt64(ackEpochAcked) + UInt64(sample.ackedSacked) >= UInt64(UInt32.max) {
            ackEpochAcked = 0
            ackEpochStart = link.deliveredAt
            expected = 0
        }
        ackEpochAcked += sample.ackedSacked
        let extra = min(ackEpochAcked - expected, link.window)
        if extra > extraAcked[extraAckedIndex] { extraAcked[extraAckedIndex] = extra }
    }

    private mutating func checkFullBandwidth(_ sample: UDXRateSample) {
        guard !fullBandwidthReached, roundStart, !sample.isAppLimited else { return }
        if bandwidth.best >= fullBandwidth * Self.fullBandwidthThreshold {
            fullBandwidth = bandwidth.best
            fullBandwidthCount = 0
            return
        }
        fullBandwidthCount += 1
        fullBandwidthReached = fullBandwidthCount >= Self.fullBandwidthRounds
    }

    private mutating func checkDrain(link: inout Link) {
        if mode == .startup, fullBandwidthReached {
            mode = .drain
            link.slowStartThreshold = bandwidthDelayProduct(bandwidth.best, gain: 1)
        }
        if mode == .drain, link.inflight <= bandwidthDelayProduct(bandwidth.best, gain: 1) {
            enterProbeBandwidth(link: link)
        }
    }

    private mutating func checkProbeRTTDone(link: inout Link) {
        guard probeRTTDoneAt != 0, link.now > probeRTTDoneAt else { return }
        minimumRTTStamp = link.now
        link.window = max(link.window, priorWindow)
        resetMode(link: link)
    }

    private mutating func updateMinimumRTT(_ sample: UDXRateSample, link: inout Link) {
        let now = link.now
        let expired = now > minimumRTTStamp + Self.minimumRTTInterval
        if sample.rtt >= 0, sample.rtt < Int64(minimumRTT) || expired {
            // At least 1 ms: the clock's resolution.
            minimumRTT = UInt32(clamping: max(sample.rtt, 1))
            minimumRTTStamp = now
        }
        if expired, !idleRestart, mode != .probeRTT {
            mode = .probeRTT
            saveWindow(link: link)
            probeRTTDoneAt = 0
        }
        if mode == .probeRTT {
            link.appLimited = max(link.delivered &+ link.inflight, 1)
            if probeRTTDoneAt == 0, link.inflight <= Self.minimumWindow {
                probeRTTDoneAt = now + Self.probeRTTDuration
                probeRTTRoundDone = false
                nextRoundDelivered = link.delivered
            } else if probeRTTDoneAt != 0 {
                if roundStart { probeRTTRoundDone = true }
                if probeRTTRoundDone { checkProbeRTTDone(link: &link) }
            }
        }
        if sample.delivered > 0 { idleRestart = false }
    }

    private mutating func updateGains() {
        switch mode {
        case .startup:
            pacingGain = Self.highGain
            windowGain = Self.highGain
        case .drain:
            pacingGain = Self.drainGain
            windowGain = Self.highGain
        case .probeBandwidth:
            pacingGain = Self.pacingGainCycle[cycleIndex]
            windowGain = Self.windowGain
        case .probeRTT:
            pacingGain = 1
            windowGain = 1
        }
    }
}

/// One delivery-rate sample (libudx's `udx_rate_sample_t`, after RFC draft-cheng-iccrg-delivery-rate-estimation):
/// how many packets were delivered over how long, taken when an ack arrives.
struct UDXRateSample: Sendable {
    /// The stream's delivered count when the most recently sent of the acked packets was sent (0: none acked yet).
    var priorDelivered: UInt32 = 0
    var priorTimestamp: UInt64 = 0
    var isAppLimited = false
    var isRetransmission = false
    var sequence: UInt32 = 0
    /// Milliseconds; -1 when no sample could be taken.
    var interval: Int64 = -1
    /// Packets; -1 when no sample could be taken.
    var delivered: Int64 = -1
    var ackedSacked: UInt32 = 0
    var losses: UInt32 = 0
    /// The RTT of the most recently sent acked packet, -1 when none.
    var rtt: Int64 = -1
}
