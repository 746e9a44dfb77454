import Synchronization

/// Tells one consumer that a log changed since it last looked (changes that come while it is busy fold into one).
///
/// Why not an `AsyncStream` of events: a consumer that follows a log (a replication driver, the gateway) only needs
/// "something changed, read the state again", and an `AsyncStream`'s waiting consumer is resumed on Swift's shared
/// pool, then hops back to where it runs: two thread switches per change for a consumer on the log's own thread.
/// `next` waits in the caller's isolation, so a change signalled on that thread resumes it there, with no switch.
public final class LogChangeSignal: Sendable {
    private struct State {
        var pending = false
        var finished = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state = Mutex(State())

    init() {}

    /// The log changed: the waiting consumer resumes, or the next `next()` returns at once.
    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state.finished else { return nil }
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: true)
    }

    /// No more changes will be signalled: `next()` returns false from now on.
    public func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: false)
    }

    /// Waits until the log changed since the last call; false once finished or when the calling task is cancelled.
    public func next(isolation: isolated (any Actor)? = #isolation) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Bool, Never>) in
                let ready = state.withLock { state -> Bool? in
                    if state.finished || Task.isCancelled { return false }
                    if state.pending {
                        state.pending = false
                        return true
                    }
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
            waiter?.resume(returning: false)
        }
    }
}
