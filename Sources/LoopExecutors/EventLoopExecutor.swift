import NIOCore

/// An event loop as Swift concurrency's serial executor and task executor at once: actors that use it run on the
/// loop's thread, and tasks that prefer it resume there after waiting (a continuation resumed on the loop runs on
/// without leaving it, instead of waking a thread of Swift's shared pool that then hops back).
///
/// Why our own: SwiftNIO's event loops are serial executors but not task executors, and without the preference a
/// resumed task always passes through the shared pool: two thread switches per wake-up, which on a small virtual
/// machine cost tens of microseconds each (docs/benchmarks.md).
public final class EventLoopExecutor: SerialExecutor, TaskExecutor {
    public let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    /// One `enqueue` serves both roles: every job runs on the loop as the serial executor's (jobs of tasks that only
    /// prefer the loop run one at a time like the rest, which is what one thread does anyway).
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor()) }
    }

    public func checkIsolated() {
        loop.preconditionInEventLoop()
    }
}
