import HyperLog
import Synchronization
import SwarmEngine

/// Appends one room's local entries to our log of it, in order, off the gateway's loop: what was queued while the
/// previous commit ran goes into the next commit together (group commit: one signature and one fsync for a burst of
/// lines), and the gateway goes on working meanwhile (ingesting other writers, answering peers).
final class RoomAppender: Sendable {
    struct Batch: Sendable {
        let entries: [RoomEntry]
        let completion: RequestCompletion?
    }

    /// What a commit did, for the gateway to ingest (or report) and to complete the requests waiting on it.
    enum Outcome: Sendable {
        case appended(first: UInt64, blocks: [[UInt8]])
        case failed(String)

        /// Why the commit failed, in words for the user; nil when it did not.
        var failure: String? {
            if case .failed(let reason) = self { reason } else { nil }
        }
    }

    private let log: SignedLog
    private let queue = Mailbox<Batch>()

    init(log: SignedLog) {
        self.log = log
    }

    func enqueue(_ batch: Batch) -> Bool {
        queue.post(batch)
    }

    /// No more batches; those queued are still committed.
    func finish() {
        queue.finish()
    }

    /// Commits batches until finished. A cancelled task still commits what was queued: a line a user was told is
    /// being sent is stored, or its failure reported.
    func run(report: @Sendable (Outcome, [RequestCompletion]) -> Void) async {
        while let first = await queue.next() {
            await commit([first] + queue.drain(), report: report)
        }
        let rest = queue.drain()
        if !rest.isEmpty { await commit(rest, report: report) }
    }

    private func commit(_ batches: [Batch], report: @Sendable (Outcome, [RequestCompletion]) -> Void) async {
        let blocks = batches.flatMap { $0.entries.map { $0.encoded() } }
        let completions = batches.compactMap(\.completion)
        guard !blocks.isEmpty else { return report(.appended(first: 0, blocks: []), completions) }
        do {
            let length = try await log.append(blocks)
            report(.appended(first: length - UInt64(blocks.count), blocks: blocks), completions)
        } catch {
            report(.failed("\(error)"), completions)
        }
    }
}

/// A front end's request, done when every append it caused is committed and ingested (so `handle` returning means
/// the line is stored and in history), or when one of them failed: `onDone` gets the first failure, in words for the
/// user, or nil.
final class RequestCompletion: Sendable {
    private let state: Mutex<(pending: Int, failure: String?, onDone: (@Sendable (String?) -> Void)?)>

    init(_ onDone: (@Sendable (String?) -> Void)?) {
        state = Mutex((1, nil, onDone))
    }

    /// One more thing to wait for.
    func add() {
        state.withLock { $0.pending += 1 }
    }

    /// One thing finished (or failed, saying why); the last one completes the request.
    func finish(failure: String? = nil) {
        let done = state.withLock { state -> ((@Sendable (String?) -> Void), String?)? in
            if state.failure == nil { state.failure = failure }
            state.pending -= 1
            guard state.pending == 0, let onDone = state.onDone else { return nil }
            state.onDone = nil
            return (onDone, state.failure)
        }
        if let (onDone, failure) = done { onDone(failure) }
    }
}
