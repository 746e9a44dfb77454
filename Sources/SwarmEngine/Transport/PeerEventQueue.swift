import NIOCore
import Synchronization

/// The bounded hand-off of one connection's events from its event loop to the async code consuming them.
///
/// The producer (the channel handler) is told to stop reading from the socket once more than `highWatermark` bytes
/// of events wait unconsumed, and `resumeReading` is called once the consumer has brought that below
/// `lowWatermark`. So a slow consumer slows the peer down through TCP flow control instead of letting this side
/// buffer without bound. One consumer at a time (like `AsyncStream`).
final class PeerEventQueue: Sendable {
    private struct State {
        var buffer = CircularBuffer<PeerEvent>()
        var bufferedBytes = 0
        var waiter: CheckedContinuation<PeerEvent?, Never>?
        var finished = false
        var paused = false

        /// After the consumer took events: whether the producer, told to stop reading, may read again now.
        mutating func resumesReading(lowWatermark: Int) -> Bool {
            guard paused, bufferedBytes <= lowWatermark else { return false }
            paused = false
            return true
        }
    }

    private let state = Mutex(State())
    let highWatermark: Int
    let lowWatermark: Int
    private let resumeReading: @Sendable () -> Void

    init(highWatermark: Int, lowWatermark: Int, resumeReading: @escaping @Sendable () -> Void) {
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.resumeReading = resumeReading
    }

    /// The consumer's view.
    var events: AsyncStream<PeerEvent> {
        AsyncStream(unfolding: { [self] in await next() })
    }

    /// The consumer's view in batches: each element is everything that had arrived when the consumer asked (at least
    /// one event), so what one socket read delivered is usually handled in one step.
    var batches: PeerEventBatches { PeerEventBatches(queue: self) }

    /// Bytes waiting for the consumer.
    var bufferedBytes: Int { state.withLock { $0.bufferedBytes } }

    /// Whether the producer was told to stop reading and has not been resumed yet.
    var isHoldingBack: Bool { state.withLock { $0.paused } }

    static func size(of event: PeerEvent) -> Int {
        switch event {
        case .opened(let name, let id, let handshake): 64 + name.utf8.count + id.count + handshake.count
        case .message(let name, let id, _, let message): 64 + name.utf8.count + id.count + message.count
        case .closed(let name, let id): 64 + name.utf8.count + id.count
        case .disconnected: 0
        }
    }

    /// Hands over one event. Returns true when the producer should stop reading until `resumeReading`.
    func yield(_ event: PeerEvent) -> Bool {
        let (waiter, pause) = state.withLock { state -> (CheckedContinuation<PeerEvent?, Never>?, Bool) in
            guard !state.finished else { return (nil, false) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            state.buffer.append(event)
            state.bufferedBytes += Self.size(of: event)
            if state.bufferedBytes > highWatermark { state.paused = true }
            return (nil, state.paused)
        }
        waiter?.resume(returning: event)
        return pause
    }

    /// No more events after those buffered.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    private enum Step {
        case deliver(PeerEvent?, resume: Bool)
        case wait
    }

    /// Everything buffered (waiting for the first event if there is none); nil once finished and drained.
    func nextBatch(isolation: isolated (any Actor)? = #isolation) async -> [PeerEvent]? {
        guard let first = await next(isolation: isolation) else { return nil }
        let (rest, resume) = state.withLock { state -> ([PeerEvent], Bool) in
            var rest: [PeerEvent] = []
            rest.reserveCapacity(state.buffer.count)
            while let event = state.buffer.popFirst() {
                state.bufferedBytes -= Self.size(of: event)
                rest.append(event)
            }
            return (rest, state.resumesReading(lowWatermark: lowWatermark))
        }
        if resume { resumeReading() }
        return [first] + rest
    }

    /// Waits in the caller's isolation: an event from the event loop resumes the consumer where it runs (on that loop,
    /// for a gateway that runs there), without a hop through Swift's shared pool.
    func next(isolation: isolated (any Actor)? = #isolation) async -> PeerEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<PeerEvent?, Never>) in
                let step = state.withLock { state -> Step in
                    if let event = state.buffer.popFirst() {
                        state.bufferedBytes -= Self.size(of: event)
                        return .deliver(event, resume: state.resumesReading(lowWatermark: lowWatermark))
                    }
                    if state.finished || Task.isCancelled { return .deliver(nil, resume: false) }
                    state.waiter = continuation
                    return .wait
                }
                if case .deliver(let event, let resume) = step {
                    continuation.resume(returning: event)
                    if resume { resumeReading() }
                }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// A connection's events in batches (everything that had arrived when the consumer asked), waited for in the
/// consumer's isolation (see `PeerEventQueue.next`). One consumer at a time.
public struct PeerEventBatches: AsyncSequence, Sendable {
    let queue: PeerEventQueue

    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: PeerEventQueue

        public mutating func next() async -> [PeerEvent]? {
            await queue.nextBatch(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> [PeerEvent]? {
            await queue.nextBatch(isolation: actor)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: queue)
    }
}
