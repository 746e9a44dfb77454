import Synchronization
import Testing

@testable import SwarmEngine

@Suite struct PeerEventQueueTests {
    final class Resumes: Sendable {
        let count = Atomic(0)
    }

    static func message(_ size: Int) -> PeerEvent {
        .message(protocol: "p", id: [1], type: 0, message: Array(repeating: 0, count: size))
    }

    /// What arrived together is taken together, in order; reading resumes once the batch is taken.
    @Test func aBatchIsEverythingThatArrivedAndTakingItResumesReading() async {
        let resumes = Resumes()
        let queue = PeerEventQueue(highWatermark: 1_000, lowWatermark: 100) { resumes.count.add(1, ordering: .relaxed) }
        var pauses: [Bool] = []
        for size in [400, 400, 400] { pauses.append(queue.yield(Self.message(size))) }
        #expect(pauses == [false, false, true], "the third event passes the high watermark")
        #expect(queue.isHoldingBack)
        let batch = await queue.nextBatch()
        #expect(batch == [Self.message(400), Self.message(400), Self.message(400)])
        #expect(!queue.isHoldingBack && queue.bufferedBytes == 0)
        #expect(resumes.count.load(ordering: .relaxed) == 1)
        _ = queue.yield(.closed(protocol: "p", id: [1]))
        queue.finish()
        #expect(await queue.nextBatch() == [.closed(protocol: "p", id: [1])])
        #expect(await queue.nextBatch() == nil)
    }

    /// A consumer waiting on an empty queue gets the next event as a batch of one.
    @Test func aWaitingConsumerGetsTheNextEvent() async {
        let queue = PeerEventQueue(highWatermark: 1_000, lowWatermark: 100) {}
        async let batch = queue.nextBatch()
        // The consumer may or may not be parked yet; either way it gets exactly this event.
        _ = queue.yield(.disconnected)
        #expect(await batch == [.disconnected])
    }
}
