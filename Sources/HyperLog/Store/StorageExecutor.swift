import Foundation
import Synchronization

/// The one thread on which HyperLog touches SQLite: the serial executor of every `SignedLog` and of `LogStore`.
///
/// Why: storage calls are synchronous GRDB calls, and a commit with `synchronous = FULL` waits for an fsync. Run on
/// Swift's shared cooperative pool (one thread per core, two on a small server) a slow disk would stall the IRC
/// server and every other task; run here, it stalls only storage work, and a caller suspends instead of blocking.
///
/// Why one thread for all logs, and a thread rather than a queue: SQLite has one writer per database anyway, so a
/// thread per log would add threads (a gateway opens a log per writer per room) without adding commits; and a
/// dedicated `Thread` is a fixed identity that no other work shares, where a serial `DispatchQueue` borrows
/// libdispatch's worker threads (and `DispatchSerialQueue`, which is a `SerialExecutor` on Apple platforms, does not
/// exist in Linux's Dispatch). An actor on this executor keeps every actor guarantee: its jobs run one at a time, and
/// a method without `await` (all of `SignedLog`'s storage methods) runs to the end before another job starts.
/// The price of one thread: proof building and verification of every log share it (one core at most), which leaves
/// the other cores to the IRC side.
///
/// Jobs run in the order they were enqueued; priorities are ignored (storage work is short and all of one kind).
/// The thread runs for the life of the process, so the executor is never deallocated under an actor that uses it.
final class StorageExecutor: SerialExecutor {
    static let shared = StorageExecutor(name: "hyperlog-sqlite")

    private struct State {
        var jobs: [UnownedJob] = []
        /// The storage thread, for `isCurrent` (the `Thread` object lives as long as the thread, which never ends).
        var thread: ObjectIdentifier?
    }

    private let state = Mutex(State())
    /// Signalled once per enqueued job; a wake-up that finds the jobs already taken simply waits again.
    private let wake = DispatchSemaphore(value: 0)

    /// `name` is the thread's name in debuggers and `top -H` (Linux keeps 15 bytes of it).
    private init(name: String) {
        // The thread holds the executor strongly and never ends: the executor lives for the process.
        let thread = Thread { [self] in
            Thread.current.name = name
            runJobs()
        }
        state.withLock { $0.thread = ObjectIdentifier(thread) }
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
        wake.signal()
    }

    /// Whether the calling code runs on the storage thread.
    var isCurrent: Bool {
        let current = ObjectIdentifier(Thread.current)
        return state.withLock { $0.thread == current }
    }

    /// Lets `assumeIsolated` and `preconditionIsolated` of an actor on this executor work from synchronous code.
    func checkIsolated() {
        precondition(isCurrent, "not on the HyperLog storage thread")
    }

    private func runJobs() -> Never {
        let executor = asUnownedSerialExecutor()
        while true {
            wake.wait()
            let batch = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return state.jobs
            }
            for job in batch { job.runSynchronously(on: executor) }
        }
    }
}
