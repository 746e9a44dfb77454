import Foundation
import Synchronization

/// A thread on which HyperLog touches SQLite: the serial executor of a `LogStore` and of every `SignedLog` it opens.
///
/// Why: storage calls are synchronous GRDB calls, and a commit with `synchronous = FULL` waits for an fsync. Run on
/// Swift's shared cooperative pool (one thread per core, two on a small server) a slow disk would stall the IRC
/// server and every other task; run here, it stalls only storage work, and a caller suspends instead of blocking.
///
/// Why one thread per store, and a thread rather than a queue: SQLite has one writer per database anyway, so a
/// thread per log would add threads (a gateway opens a log per writer per room) without adding commits; and a
/// dedicated `Thread` is a fixed identity that no other work shares, where a serial `DispatchQueue` borrows
/// libdispatch's worker threads (and `DispatchSerialQueue`, which is a `SerialExecutor` on Apple platforms, does not
/// exist in Linux's Dispatch). An actor on this executor keeps every actor guarantee: its jobs run one at a time, and
/// a method without `await` (all of `SignedLog`'s storage methods) runs to the end before another job starts.
/// The price of one thread: proof building and verification of a store's logs share it (one core at most), which
/// leaves the other cores to the IRC side. A process with several stores (tests, benchmarks running many gateways)
/// spreads them over a small fixed pool, one thread per core, as the shared pool would have.
///
/// Jobs run in the order they were enqueued; priorities are ignored (storage work is short and all of one kind).
/// The threads run for the life of the process, so an executor is never deallocated under an actor that uses it.
///
/// It is a task executor too: a task that prefers it (`LogStore.executor` does, for the tasks that follow its logs)
/// is resumed here after waiting on a continuation, instead of on Swift's shared pool and then here again.
final class StorageExecutor: SerialExecutor, TaskExecutor {
    /// The pool, made on first use: one thread per core (at least 1, at most 8).
    private static let pool: [StorageExecutor] = (0..<min(8, max(1, ProcessInfo.processInfo.activeProcessorCount))).map {
        StorageExecutor(name: "hyperlog-sql-\($0)")
    }
    private static let nextInPool = Atomic<Int>(0)

    /// The executor for a new store: the pool's threads in turn.
    static func forNewStore() -> StorageExecutor {
        let index = nextInPool.add(1, ordering: .relaxed).oldValue
        return pool[index % pool.count]
    }

    /// Whether the calling code runs on any storage thread.
    static var isStorageThread: Bool { pool.contains { $0.isCurrent } }

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
        let serial = asUnownedSerialExecutor()
        let task = asUnownedTaskExecutor()
        while true {
            wake.wait()
            let batch = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return state.jobs
            }
            // One `enqueue` serves both roles, so every job runs as the serial executor's: jobs of tasks that only
            // prefer this thread run one at a time like the rest, which is what a serial thread does anyway.
            for job in batch { job.runSynchronously(isolatedTo: serial, taskExecutor: task) }
        }
    }
}
