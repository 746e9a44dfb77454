import Foundation
import GRDB
@testable import HyperLog
import Testing

/// A log's contiguous length is stored with each write, so opening a log reads one row instead of its whole block
/// index; it agrees with what the blocks say, after appends, partial replication and reopening, and a store written
/// before it was recorded still opens right.
@Suite struct ContiguousLengthTests {
    @Test func theRecordedLengthAgreesWithTheBlocksAcrossPartialReplicationAndReopening() async throws {
        let stores = try await ReplicationSessionTests.Stores()
        defer { stores.cleanUp() }
        let partial = try await ReplicationSessionTests.replicateInterrupted(stores)
        #expect(partial < 500)
        let readerRecord = try #require(try stores.readerStore.storage.core(key: stores.writer.key))
        #expect(readerRecord.contiguousLength == partial)
        #expect(try stores.readerStore.storage.contiguousLength(core: readerRecord.id) == partial)
        let writerRecord = try #require(try stores.writerStore.storage.core(key: stores.writer.key))
        #expect(writerRecord.contiguousLength == 500)

        // Reopened, the replica knows where it stood, and replication fills the rest.
        try await stores.readerStore.close()
        let reopenedStore = try LogStore(directory: stores.directory.appendingPathComponent("reader"))
        let reopened = try await reopenedStore.replica(key: stores.writer.key)
        #expect(await reopened.contiguousLength == partial)
        let second = try await ReplicationLoopback.connect(initiator: stores.writer, responder: reopened)
        #expect(await second.pump { await ReplicationSessionTests.caughtUp(reopened, stores.writer) })
        await second.stop()
        #expect(try reopenedStore.storage.core(key: stores.writer.key)?.contiguousLength == 500)
        try await reopenedStore.close()
    }

    @Test func aStoreWrittenBeforeTheLengthWasRecordedOpensRight() async throws {
        let directory = temporaryStoreDirectory("contiguous-legacy")
        defer { try? FileManager.default.removeItem(at: directory) }
        var store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "room")
        try await log.append((0..<40).map { Array("entry \($0)".utf8) })
        try await store.close()
        let queue = try DatabaseQueue(path: directory.appendingPathComponent(LogStore.databaseFileName).path)
        try await queue.write { try $0.execute(sql: "UPDATE core SET contiguous_length = NULL") }
        try queue.close()

        store = try LogStore(directory: directory)
        let reopened = try await store.writableLog(name: "room")
        #expect(await reopened.contiguousLength == 40)
        try await reopened.append([Array("entry 40".utf8)])
        #expect(try store.storage.core(key: reopened.key)?.contiguousLength == 41)
        try await store.close()
    }
}
