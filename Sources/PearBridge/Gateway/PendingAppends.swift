import Synchronization
import SwarmEngine

/// Our local entries waiting for the next commit, per room and local writer (each person writes to their own log of
/// a room), in the order they were composed.
///
/// Why: the gateway handles every job that queued up meanwhile before it commits, so a burst of lines (a paste,
/// several clients at once) becomes one append per log: one signature, one tree update, one transaction and one
/// fsync, however many lines it holds, instead of one of each per line (group commit). A pure value: the gateway
/// takes the batches and commits them.
struct PendingAppends {
    struct Batch: Sendable {
        let entries: [RoomEntry]
        let completion: RequestCompletion?
    }

    /// One log's share of a commit: the blocks to append, in order, and the requests waiting on them.
    struct Commit {
        let topic: RoomTopic
        let writer: [UInt8]
        let blocks: [[UInt8]]
        let completions: [RequestCompletion]
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

    private struct Log: Hashable {
        let topic: RoomTopic
        let writer: [UInt8]
    }

    private var byLog: [Log: [Batch]] = [:]
    /// Logs in the order their first waiting batch arrived (commits follow it).
    private var order: [Log] = []

    var isEmpty: Bool { order.isEmpty }

    mutating func add(_ batch: Batch, to topic: RoomTopic, writer: [UInt8]) {
        let log = Log(topic: topic, writer: writer)
        if byLog[log] == nil { order.append(log) }
        byLog[log, default: []].append(batch)
    }

    /// Everything waiting, one commit per log, taken out.
    mutating func takeAll() -> [Commit] {
        defer {
            byLog = [:]
            order = []
        }
        return order.map { log in
            let batches = byLog[log] ?? []
            return Commit(
                topic: log.topic, writer: log.writer, blocks: batches.flatMap { $0.entries.map { $0.encoded() } },
                completions: batches.compactMap(\.completion))
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
