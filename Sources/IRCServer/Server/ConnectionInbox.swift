import Synchronization

/// A connection's input on its way to the `IRCServerCore`, in order, processed by a task that exists only while
/// there is input: an idle connection holds no task (a parked task and its stream cost several KiB per client).
///
/// The event loop `post`s items; the first item after a quiet spell starts a drain task, which takes everything
/// queued, hands it to `process` one by one, and ends when the queue is empty. One drain task at a time, so items
/// are processed in the order posted.
final class ConnectionInbox<Item: Sendable>: Sendable {
    private struct State {
        var queue: [Item] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let process: @Sendable (Item) async -> Void
    /// Where the drain task runs (the core's loop, the one that posts).
    private let executor: (any TaskExecutor)?

    init(executor: (any TaskExecutor)?, process: @escaping @Sendable (Item) async -> Void) {
        self.executor = executor
        self.process = process
    }

    func post(_ item: Item) {
        let start = state.withLock { state -> Bool in
            state.queue.append(item)
            defer { state.draining = true }
            return !state.draining
        }
        // Not a child of a task group on purpose: the drain task belongs to this connection's queue, ends by itself
        // when the queue is empty, and is started on the event loop for every burst of reads; handing it to a group
        // through a stream would add a hop to each burst. The core's `stop()` makes late items no-ops.
        if start { Task(executorPreference: executor) { await self.drain() } }
    }

    private func drain() async {
        while true {
            let items = state.withLock { state -> [Item] in
                if state.queue.isEmpty { state.draining = false }
                defer { state.queue = [] }
                return state.queue
            }
            if items.isEmpty { return }
            for item in items { await process(item) }
        }
    }
}
