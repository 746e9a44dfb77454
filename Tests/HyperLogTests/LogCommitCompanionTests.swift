import Foundation
import GRDB
@testable import HyperLog
import Synchronization
import Testing

/// A store's commit companion writes in the transaction that stores a log's new blocks: what it derives is kept
/// exactly when the blocks are, whether they come from an append or from a peer, and a companion that fails takes
/// the change down with it.
@Suite struct LogCommitCompanionTests {
    /// Copies every new contiguous block into a table of its own, reading on from what that table holds (so its
    /// progress is itself transactional); refuses a change holding a block for which `refuse` says so.
    final class CopyingCompanion: LogCommitCompanion {
        let refuse: @Sendable ([UInt8]) -> Bool
        private let ends = Mutex((committed: 0, rolledBack: 0))

        init(refuse: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }) { self.refuse = refuse }

        var committed: Int { ends.withLock { $0.committed } }
        var rolledBack: Int { ends.withLock { $0.rolledBack } }

        func logWillCommit(_ change: LogChangeInTransaction) throws {
            let db = change.database
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS derived (key BLOB, idx INTEGER, data BLOB, PRIMARY KEY (key, idx))")
            let have = try Int.fetchOne(db, sql: "SELECT count(*) FROM derived WHERE key = ?", arguments: [Data(change.key)]) ?? 0
            for (offset, block) in try change.blocks(from: UInt64(have)).enumerated() {
                if refuse(block) { throw HyperLogError.invalidRequest("refused by the companion") }
                try db.execute(
                    sql: "INSERT INTO derived (key, idx, data) VALUES (?, ?, ?)",
                    arguments: [Data(change.key), have + offset, Data(block)])
            }
        }

        func logDidEnd(key: [UInt8], committed: Bool) {
            ends.withLock { if committed { $0.committed += 1 } else { $0.rolledBack += 1 } }
        }
    }

    static func derived(_ store: LogStore, _ key: [UInt8]) throws -> [[UInt8]] {
        try store.storage.database.read { db in
            guard try db.tableExists("derived") else { return [] }
            return try Data.fetchAll(db, sql: "SELECT data FROM derived WHERE key = ? ORDER BY idx", arguments: [Data(key)])
                .map { Array($0) }
        }
    }

    static func storedBlocks(_ store: LogStore) throws -> Int {
        try store.storage.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM block") ?? -1 }
    }

    static func lines(_ range: Range<Int>) -> [[UInt8]] { range.map { Array("line \($0)".utf8) } }

    @Test func anAppendAndWhatTheCompanionWritesAreOneTransaction() async throws {
        let directory = temporaryStoreDirectory("companion-append")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LogStore(directory: directory)
        let companion = CopyingCompanion { $0 == Array("refused".utf8) }
        await store.setCommitCompanion(companion)
        let log = try await store.writableLog(name: "room")

        try await log.append(Self.lines(0..<3))
        #expect(try Self.derived(store, log.key) == Self.lines(0..<3))

        await #expect(throws: HyperLogError.self) { try await log.append([Array("fine".utf8), Array("refused".utf8)]) }
        #expect(await log.length == 3, "the append failed whole")
        #expect(try Self.storedBlocks(store) == 3)
        #expect(try Self.derived(store, log.key) == Self.lines(0..<3))
        #expect(companion.rolledBack == 1)

        try await log.append([Array("after".utf8)])
        #expect(try Self.derived(store, log.key) == Self.lines(0..<3) + [Array("after".utf8)])
        #expect(companion.committed == 2)
        try await log.verifyEverything()
        try await store.close()
    }

    @Test func aDownloadAndWhatTheCompanionWritesAreOneTransaction() async throws {
        let directory = temporaryStoreDirectory("companion-download")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writerStore = try LogStore(directory: directory.appendingPathComponent("writer"))
        let writer = try await writerStore.writableLog(name: "room")
        try await writer.append(Self.lines(0..<40))

        // A reader whose companion refuses one block: what arrives with it is not stored, and what is stored is
        // exactly what the companion derived.
        let readerStore = try LogStore(directory: directory.appendingPathComponent("reader"))
        let refusing = CopyingCompanion { $0 == Array("line 25".utf8) }
        await readerStore.setCommitCompanion(refusing)
        let reader = try await readerStore.replica(key: writer.key)
        let first = try await ReplicationLoopback.connect(initiator: writer, responder: reader)
        #expect(await first.pump { refusing.rolledBack > 0 }, "the refused download was rolled back")
        await first.stop()
        let stored = await reader.contiguousLength
        #expect(stored <= 25)
        #expect(try Self.derived(readerStore, writer.key) == Self.lines(0..<Int(stored)))
        #expect(try Self.storedBlocks(readerStore) == Int(stored), "no block stored without its derived row")

        // With a companion that takes everything, the rest arrives, each block derived once, in order.
        let accepting = CopyingCompanion()
        await readerStore.setCommitCompanion(accepting)
        let second = try await ReplicationLoopback.connect(initiator: writer, responder: reader)
        #expect(await second.pump { await ReplicationSessionTests.caughtUp(reader, writer) })
        await second.stop()
        #expect(try Self.derived(readerStore, writer.key) == Self.lines(0..<40))
        #expect(accepting.rolledBack == 0)
        try await readerStore.close()
        try await writerStore.close()
    }
}
