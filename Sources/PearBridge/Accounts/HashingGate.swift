import DequeModule
import NIOCore
import Synchronization

/// Bounds the password hashes computed at once. An Argon2id check takes tens of milliseconds of one core and 64 MiB
/// of memory by design (`PasswordHash.Cost.interactive`), and it runs on Swift's shared pool: a flood of logins must
/// neither exhaust memory nor take every pool thread. At most `concurrent` run; up to `waiting` more wait their turn
/// in order; past that a login is refused at once (`Busy`), costing nothing.
public final class HashingGate: Sendable {
    public struct Busy: Error, CustomStringConvertible {
        public var description: String { "too many logins at once; try again in a moment" }
    }

    private struct State {
        var running = 0
        var waiters = Deque<CheckedContinuation<Bool, Never>>()
    }

    public let concurrent: Int
    public let waiting: Int
    private let state = Mutex(State())

    /// The default leaves one core of a small machine to everything else.
    public init(concurrent: Int = max(1, System.coreCount - 1), waiting: Int = 32) {
        self.concurrent = max(1, concurrent)
        self.waiting = max(0, waiting)
    }

    /// Runs `work` once a slot is free (in arrival order); throws `Busy` when too many wait already.
    public func run<T: Sendable>(_ work: () throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try work()
    }

    /// How many hashes run now and how many wait (tests, metrics).
    public var load: (running: Int, waiting: Int) {
        state.withLock { ($0.running, $0.waiters.count) }
    }

    private func acquire() async throws {
        let admitted = state.withLock { state in
            guard state.running >= concurrent else {
                state.running += 1
                return true
            }
            return false
        }
        if admitted { return }
        // Resumed with true once a slot is ours (now, if one came free since the first look, or when handed over by
        // `release`), with false when the queue is full.
        let granted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let verdict: Bool? = state.withLock { state in
                if state.running < concurrent {
                    state.running += 1
                    return true
                }
                guard state.waiters.count < waiting else { return false }
                state.waiters.append(continuation)
                return nil
            }
            if let verdict { continuation.resume(returning: verdict) }
        }
        if !granted { throw Busy() }
    }

    private func release() {
        // The slot passes straight to the next waiter (`running` unchanged), or is freed.
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            if let next = state.waiters.popFirst() { return next }
            state.running -= 1
            return nil
        }
        next?.resume(returning: true)
    }
}
