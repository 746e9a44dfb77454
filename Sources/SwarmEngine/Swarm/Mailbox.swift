import NIOCore
import Synchronization

/// The queue in front of a service's one consumer loop (the gateway's, the connection manager's): posting never
/// blocks or suspends, the loop takes jobs in order, and no job is lost unanswered. When the loop is cancelled its
/// `next()` returns nil but the jobs stay queued, so the owner can `finish()` and `drain()` them to answer each one
/// (an `AsyncStream` would drop them, leaving their callers waiting forever).
public final class Mailbox<Element: Sendable>: Sendable {
    private struct State {
        var queue = CircularBuffer<Element>()
        var waiter: CheckedContinuation<Element?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Queues `element`; false once the mailbox is finished (the caller answers the job itself).
    @discardableResult
    public func post(_ element: Element) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Element?, Never>?) in
            guard !state.finished else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.queue.append(element)
            return (true, nil)
        }
        waiter?.resume(returning: element)
        return accepted
    }

    /// No more posts; the loop gets what is queued, then nil.
    public func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything still queued (after the loop stopped), taken out.
    public func drain() -> [Element] {
        state.withLock { state in
            defer { state.queue.removeAll() }
            return Array(state.queue)
        }
    }

    /// The next job, waiting for one; nil once finished and empty, or when the calling task is cancelled. Waits in the
    /// caller's isolation: a post resumes the loop where it runs, without a hop through Swift's shared pool.
    public func next(isolation: isolated (any Actor)? = #isolation) async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Element?, Never>) in
                let ready = state.withLock { state -> Element?? in
                    if let element = state.queue.popFirst() { return .some(element) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
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
