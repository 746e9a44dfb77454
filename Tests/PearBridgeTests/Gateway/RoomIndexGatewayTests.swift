import Foundation
import GRDB
import HyperLog
@testable import PearBridge
import Testing

/// The gateway's history index lives in the store's database and is written in the transactions that store the
/// blocks: an entry is indexed exactly when its block is stored. A restart reads it back; an index from before
/// (a file of its own) is dropped and the rooms are indexed again from their logs.
@Suite struct RoomIndexGatewayTests {
    static func storeFile(_ gateway: TestGateway) -> URL {
        gateway.directory.file("store").appendingPathComponent(LogStore.databaseFileName)
    }

    /// A connection of the test's own to the gateway's store (it waits, rather than fails, while the gateway writes).
    static func openStore(_ gateway: TestGateway) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: storeFile(gateway).path, configuration: configuration)
    }

    static func count(_ gateway: TestGateway, _ sql: String) throws -> Int {
        let queue = try openStore(gateway)
        defer { try? queue.close() }
        return try queue.read { try Int.fetchOne($0, sql: sql) ?? -1 }
    }

    static func indexedEntries(_ gateway: TestGateway) throws -> Int { try count(gateway, "SELECT count(*) FROM entry") }
    static func storedBlocks(_ gateway: TestGateway) throws -> Int { try count(gateway, "SELECT count(*) FROM block") }

    /// A gateway whose user joined #kept and said three lines, stopped (its data directory stays, for a restart).
    static func stoppedAfterThreeLines(_ name: String) async throws -> TestGateway {
        let gateway = try await TestGateway.make(name)
        await gateway.handle(.joined(channel: "#kept", nick: "alice"))
        for number in 1...3 { await gateway.say("#kept", "line \(number)", as: "alice") }
        await gateway.stop()
        return gateway
    }

    @Test func aRestartReadsTheIndexAndGoesOnFromIt() async throws {
        var gateway = try await Self.stoppedAfterThreeLines("index-restart")
        defer { gateway.cleanUp() }
        // Identity, nick, join and three lines.
        #expect(try Self.indexedEntries(gateway) == 6)

        gateway = try await TestGateway.make("index-restart", directory: gateway.directory)
        #expect(await historyTexts(gateway, "#kept") == ["line 1", "line 2", "line 3"])
        // What the room knew is back (our nick: the rejoin under it writes no nick entry), and lines go on after.
        await gateway.handle(.joined(channel: "#kept", nick: "alice"))
        await gateway.say("#kept", "line 4", as: "alice")
        #expect(await historyTexts(gateway, "#kept") == ["line 1", "line 2", "line 3", "line 4"])
        await gateway.stop()
        #expect(try Self.indexedEntries(gateway) == 8)
    }

    /// The first start after an upgrade: the old index file goes, and the rooms are indexed again from their logs
    /// (an index in the store that is behind its logs is caught up the same way).
    @Test func anOldIndexFileIsDroppedAndTheRoomsIndexedAgainFromTheLogs() async throws {
        var gateway = try await Self.stoppedAfterThreeLines("index-upgrade")
        defer { gateway.cleanUp() }

        // As an older version left it: nothing indexed in the store, an index file of its own beside it.
        let store = try Self.openStore(gateway)
        try await store.write { db in
            for table in ["entry", "writer", "awaited"] { try db.execute(sql: "DELETE FROM \(table)") }
        }
        try store.close()
        let oldFile = gateway.directory.file("store").appendingPathComponent(RoomIndex.fileName)
        try Data(repeating: 0x5a, count: 8192).write(to: oldFile)

        gateway = try await TestGateway.make("index-upgrade", directory: gateway.directory)
        #expect(await historyTexts(gateway, "#kept") == ["line 1", "line 2", "line 3"])
        #expect(!FileManager.default.fileExists(atPath: oldFile.path))
        await gateway.stop()
        #expect(try Self.indexedEntries(gateway) == 6)
    }

    /// An entry and its block are one transaction: when the index cannot take an entry, the line is not stored
    /// either, and the user hears so; the next line is stored and indexed as usual.
    @Test func aLineTheIndexCannotTakeIsNotStoredAndTheSenderHearsSo() async throws {
        let gateway = try await TestGateway.make("index-refuses")
        defer { gateway.cleanUp() }
        await gateway.handle(.joined(channel: "#kept", nick: "alice"))
        await gateway.say("#kept", "line 1", as: "alice")
        let blocks = try Self.storedBlocks(gateway), entries = try Self.indexedEntries(gateway)
        #expect(blocks == entries)

        // The index refuses one text (a trigger stands in for any failure of the index's statements).
        let store = try Self.openStore(gateway)
        try await store.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER refuse_line BEFORE INSERT ON entry WHEN NEW.text = 'refused'
                    BEGIN SELECT RAISE(ABORT, 'the index refuses this line'); END
                    """)
        }
        let failure = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            gateway.gateway.submit(
                .say(room: "#kept", kind: .message, text: "refused", id: "r1", time: Date()),
                stored: { continuation.resume(returning: $0) })
        }
        #expect(failure != nil, "the sender hears that the line was not stored")
        #expect(try Self.storedBlocks(gateway) == blocks, "no block without its index entry")
        #expect(try Self.indexedEntries(gateway) == entries)

        try await store.write { try $0.execute(sql: "DROP TRIGGER refuse_line") }
        try store.close()
        await gateway.say("#kept", "line 2", as: "alice")
        #expect(await historyTexts(gateway, "#kept") == ["line 1", "line 2"])
        #expect(try Self.storedBlocks(gateway) == blocks + 1)
        #expect(try Self.indexedEntries(gateway) == entries + 1)
        await gateway.stop()
    }
}
