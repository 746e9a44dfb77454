import Foundation
import GRDB
@testable import HyperLog
import Synchronization
import Testing

/// SQLite work must never block Swift's shared pool: every commit (the call that waits for the fsync) of a log or
/// of a store's log opening has to happen on the dedicated storage thread.
@Suite struct StorageExecutorTests {
    /// Notes, for every transaction SQLite commits, whether the committing thread was the storage thread. GRDB
    /// calls it synchronously from inside the commit, on the thread that runs the write.
    final class CommitThreads: TransactionObserver, Sendable {
        private let onStorageThread = Mutex<[Bool]>([])
        var all: [Bool] { onStorageThread.withLock { $0 } }

        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
        func databaseDidChange(with event: DatabaseEvent) {}
        func databaseDidCommit(_ db: Database) {
            let current = StorageExecutor.isStorageThread
            onStorageThread.withLock { $0.append(current) }
        }
        func databaseDidRollback(_ db: Database) {}
    }

    @Test func everyCommitRunsOnTheStorageThread() async throws {
        let directory = temporaryStoreDirectory("storage-thread")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writerStore = try LogStore(directory: directory.appendingPathComponent("writer"))
        let readerStore = try LogStore(directory: directory.appendingPathComponent("reader"))
        let commits = CommitThreads()
        writerStore.storage.pool.add(transactionObserver: commits, extent: .observerLifetime)
        readerStore.storage.pool.add(transactionObserver: commits, extent: .observerLifetime)
        // The test itself runs on the shared pool: the check below is not trivially true.
        #expect(!StorageExecutor.isStorageThread)

        // Opening creates the core record (one commit each).
        let writer = try await writerStore.writableLog(name: "room")
        let reader = try await readerStore.replica(key: writer.key)
        for round in 0..<5 { try await writer.append([Array("line \(round)".utf8), Array("more \(round)".utf8)]) }
        // Replication: proofs read on the writer, verified data committed on the reader.
        let pair = try await ReplicationLoopback.connect(initiator: writer, responder: reader)
        #expect(await pair.pump { await reader.contiguousLength == 10 })
        await pair.stop()
        #expect(try await reader.get(9) == Array("more 4".utf8))
        try await writer.truncate(to: 7)
        try await writer.append([Array("after the truncation".utf8)])
        try await writerStore.close()
        try await readerStore.close()

        let threads = commits.all
        // 2 opens, 5 appends, at least one commit of replicated data, 1 truncation, 1 append.
        #expect(threads.count >= 10)
        #expect(threads.allSatisfy { $0 }, "\(threads.filter { !$0 }.count) of \(threads.count) commits ran elsewhere")
    }

    @Test func logsAndStoresRunOnTheStorageThread() async throws {
        let directory = temporaryStoreDirectory("storage-thread")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "room")
        // Reads run where commits do: every job of either actor runs on the storage thread.
        #expect(await log.runsOnStorageThread())
        #expect(await store.runsOnStorageThread())
        try await store.close()
    }
}

extension SignedLog {
    fileprivate func runsOnStorageThread() -> Bool {
        return StorageExecutor.isStorageThread
    }
}

extension LogStore {
    fileprivate func runsOnStorageThread() -> Bool {
        return StorageExecutor.isStorageThread
    }
}
