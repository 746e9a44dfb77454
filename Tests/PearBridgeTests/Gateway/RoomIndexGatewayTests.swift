import Foundation
import GRDB
import HyperLog
@testable import PearBridge
import Testing

/// The gateway's history index is derived from the logs: a restart reads it back, and an index that cannot be
/// trusted (damaged, or ahead of a store that was lost) is rebuilt from the logs, never served or fatal.
@Suite struct RoomIndexGatewayTests {
    static func indexFile(_ gateway: TestGateway) -> URL {
        gateway.directory.file("store").appendingPathComponent(RoomIndex.fileName)
    }

    static func indexedEntries(_ file: URL) throws -> Int {
        let queue = try DatabaseQueue(path: file.path)
        defer { try? queue.close() }
        return try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM entry") ?? 0 }
    }

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
        #expect(try Self.indexedEntries(Self.indexFile(gateway)) == 6)

        gateway = try await TestGateway.make("index-restart", directory: gateway.directory)
        #expect(await historyTexts(gateway, "#kept") == ["line 1", "line 2", "line 3"])
        // What the room knew is back (our nick: the rejoin under it writes no nick entry), and lines go on after.
        await gateway.handle(.joined(channel: "#kept", nick: "alice"))
        await gateway.say("#kept", "line 4", as: "alice")
        #expect(await historyTexts(gateway, "#kept") == ["line 1", "line 2", "line 3", "line 4"])
        await gateway.stop()
        #expect(try Self.indexedEntries(Self.indexFile(gateway)) == 8)
    }

    @Test func aDamagedIndexIsSetAsideAndRebuiltFromTheLogs() async throws {
        var gateway = try await Self.stoppedAfterThreeLines("index-damaged")
        defer { gateway.cleanUp() }

        let file = Self.indexFile(gateway)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file.path + suffix) }
        try Data(repeating: 0x5a, count: 8192).write(to: file)
        gateway = try await TestGateway.make("index-damaged", directory: gateway.directory)
        #expect(await historyTexts(gateway, "#kept") == ["line 1", "line 2", "line 3"])
        #expect(FileManager.default.fileExists(atPath: file.path + ".damaged"))
        await gateway.stop()
    }

    @Test func anIndexAheadOfALostStoreIsRebuiltNotServed() async throws {
        var gateway = try await Self.stoppedAfterThreeLines("index-ahead")
        defer { gateway.cleanUp() }

        // The store is lost (its keys kept); the index survives it.
        let store = gateway.directory.file("store")
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(at: store.appendingPathComponent(LogStore.databaseFileName + suffix))
        }
        gateway = try await TestGateway.make("index-ahead", directory: gateway.directory)
        // Lines the store no longer holds are not shown as if it did (they come back when peers give them back).
        #expect(await historyTexts(gateway, "#kept").isEmpty)
        await gateway.stop()
        #expect(try Self.indexedEntries(Self.indexFile(gateway)) == 0)
    }
}
