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
        var waiters = Deque<CheckedContinuation<Void, Never>>()
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

    private enum Admission { case now, queued, refused }

    private func acquire() async throws {
        let admitted: Bool = state.withLock { state in
            guard state.running >= concurrent else {
                state.running += 1
                return true
            }
            return false
        }
        if admitted { return }
        var refused = false
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admission: Admission = state.withLock { state in
                // A slot may have come free since the first look.
                if state.running < concurrent {
                    state.running += 1
                    return .now
                }
                guard state.waiters.count < waiting else { return .refused }
                state.waiters.append(continuation)
                return .queued
            }
            switch admission {
            case .now: continuation.resume()
            case .refused:
                refused = true
                continuation.resume()
            case .queued: break
            }
        }
        if refused { throw Busy() }
    }

    private func release() {
        // The slot passes straight to the next waiter (`running` unchanged), or is freed.
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            if let next = state.waiters.popFirst() { return next }
            state.running -= 1
            return nil
        }
        next?.resume()
    }
}
