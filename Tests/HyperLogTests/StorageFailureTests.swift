import Foundation
import GRDB
@testable import HyperLog
import Testing

/// A write that the disk refuses fails whole: the caller hears why, nothing of it is kept, and the log goes on once
/// there is room again. (The store's transactions are its own prepared BEGIN/COMMIT, `inPreparedTransaction`.)
@Suite struct StorageFailureTests {
    @Test func aFullDiskFailsTheAppendWholeAndTheLogGoesOnAfterwards() async throws {
        let directory = temporaryStoreDirectory("full-disk")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "room")
        try await log.append((0..<10).map { Array("line \($0)".utf8) })

        // SQLite's page limit stands in for a full disk: no page may be added to the database from now on.
        let pool = await store.storage.pool
        let pages = try await pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA page_count") ?? 0 }
        try await pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA max_page_count = \(pages)") }
        let large = (0..<64).map { _ in [UInt8](repeating: 7, count: 4096) }
        await #expect(throws: StorageWriteFailure.diskFull) { try await log.append(large) }
        #expect(await log.length == 10)
        let stored = try await pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "SELECT count(*) FROM block") ?? -1 }
        #expect(stored == 10, "nothing of the failed append is kept")
        let inside = try await pool.writeWithoutTransaction { $0.isInsideTransaction }
        #expect(!inside)

        try await pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA max_page_count = 1073741823") }
        try await log.append([Array("after".utf8)])
        #expect(await log.length == 11)
        #expect(try await log.get(10) == Array("after".utf8))
        try await log.verifyEverything()
    }
}
