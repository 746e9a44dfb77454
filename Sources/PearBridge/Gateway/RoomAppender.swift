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
/// the line is stored and in history).
final class RequestCompletion: Sendable {
    private let state: Mutex<(pending: Int, done: CheckedContinuation<Void, Never>?)>

    init(_ done: CheckedContinuation<Void, Never>?) {
        state = Mutex((1, done))
    }

    /// One more thing to wait for.
    func add() {
        state.withLock { $0.pending += 1 }
    }

    /// One thing finished; the last one resumes the request.
    func finish() {
        let done = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.pending -= 1
            guard state.pending == 0 else { return nil }
            defer { state.done = nil }
            return state.done
        }
        done?.resume()
    }
}
