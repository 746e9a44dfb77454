@testable import SwarmEngine
import Testing

/// BBR's parts: the windowed filter it keeps its bandwidth and min RTT in, and the phases a bulk transfer goes
/// through (STARTUP until the bandwidth stops growing, then DRAIN, then PROBE_BW), on the simulated link.
@Suite struct UDXCongestionControlTests {
    @Test func theWindowedMaximumForgetsASampleOnceItLeavesTheWindow() {
        var filter = UDXWindowedFilter<Double>(.maximum, time: 0, value: 0)
        filter.apply(10, at: 1, window: 10)
        #expect(filter.best == 10)
        // Smaller samples do not replace the best while it is inside the window.
        for round in UInt64(2)...10 { filter.apply(4, at: round, window: 10) }
        #expect(filter.best == 10)
        // Ten rounds on, the 10 has aged out; the best of what came since takes over.
        filter.apply(3, at: 12, window: 10)
        #expect(filter.best == 4)
        filter.apply(3, at: 30, window: 10)
        #expect(filter.best == 3)
        // A new maximum wins at once.
        filter.apply(50, at: 31, window: 10)
        #expect(filter.best == 50)
    }

    @Test func theWindowedMinimumKeepsTheSmallestRecentSample() {
        var filter = UDXWindowedFilter<UInt64>(.minimum, time: 0, value: UInt64(UInt32.max))
        filter.apply(20, at: 100, window: 1000)
        filter.apply(35, at: 200, window: 1000)
        filter.apply(15, at: 300, window: 1000)
        filter.apply(40, at: 400, window: 1000)
        #expect(filter.best == 15)
        filter.apply(40, at: 1_400, window: 1000)
        #expect(filter.best == 40)
    }

    @Test func aBulkTransferLeavesStartupAndSettlesInProbeBandwidthWithAPlausibleEstimate() {
        // 20 ms round trip, no loss, a 256 KiB receive window as the bottleneck: BBR must see the bandwidth stop
        // growing, drain, and cycle in PROBE_BW.
        let (simulation, moved) = Self.bulkTransfer(
            seed: 11, delay: 10, receiveWindow: 256 * 1024, bytes: 6_000_000, until: 5_000_000, within: 120_000)
        #expect(moved)
        let sender = simulation.a.stream
        #expect(sender.congestionPhase == .probeBandwidth)
        // The window allows 256 KiB per 20 ms round trip, about 13 MB/s: the estimate is near it.
        #expect(sender.estimatedBandwidth > 6_000_000 && sender.estimatedBandwidth < 26_000_000)
        #expect(sender.counters.retransmissions == 0)
    }

    /// A path faster than the millisecond clock (loopback; trains sent with segmentation offload and acked in one
    /// read): every flight is sent and acked within one tick. Its rate samples count as one millisecond instead of
    /// being discarded as libudx discards a zero interval, so rounds start and BBR leaves startup.
    @Test func aPathFasterThanTheClockStillLeavesStartup() {
        // The receive window is the bottleneck (64 KiB per tick), so the estimate stops growing.
        let (simulation, moved) = Self.bulkTransfer(
            seed: 5, delay: 0, receiveWindow: 64 * 1024, bytes: 4_000_000, until: 3_000_000, within: 60_000)
        #expect(moved)
        #expect(simulation.a.stream.congestionPhase != .startup)
        #expect(simulation.a.stream.counters.retransmissions == 0)
    }

    /// One stream sending `bytes` over a simulated link with `delay` ms each way and no loss, run until the receiver
    /// has `until` bytes or `within` simulated ms pass (then `moved` is false).
    static func bulkTransfer(
        seed: UInt64, delay: UInt64, receiveWindow: Int, bytes: Int, until: Int, within: UInt64
    ) -> (simulation: UDXLinkSimulation, moved: Bool) {
        var configuration = UDXStreamState.Configuration()
        configuration.receiveWindow = receiveWindow
        var simulation = UDXLinkSimulation(seed: seed, model: .init(delay: delay), configuration: configuration)
        simulation.a.toWrite = UDXStreamStateTests.pattern(bytes, seed: UInt8(truncatingIfNeeded: seed))
        simulation.a.endsWhenWritten = false
        let moved = simulation.run(forAtMost: within) { $0.b.received.count >= until }
        return (simulation, moved)
    }
}
