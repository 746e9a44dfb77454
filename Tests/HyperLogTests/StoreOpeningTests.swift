import Foundation
import GRDB
@testable import HyperLog
import Testing

/// Opening a store: a clean close lets the next open skip reading every page; a store cut short or overwritten is
/// a clear error naming its file, whether or not it was closed cleanly; never a crash.
@Suite struct StoreOpeningTests {
    static func storeWithBlocks(_ name: String) async throws -> URL {
        let directory = temporaryStoreDirectory(name)
        let store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "room")
        for batch in 0..<20 { try await log.append((0..<100).map { Array("entry \(batch) \($0) with some words".utf8) }) }
        try await store.close()
        return directory
    }

    static func database(_ directory: URL) -> String { directory.appendingPathComponent(LogStore.databaseFileName).path }

    /// Opening the store in `directory` must fail with `corruptStorage` naming its database file.
    static func expectOpeningFailsNamingTheFile(_ directory: URL, _ what: String) throws {
        do {
            _ = try LogStore(directory: directory)
            Issue.record("\(what) opened")
        } catch let error as HyperLogError {
            guard case .corruptStorage(let reason) = error else { throw error }
            #expect(reason.contains(database(directory)), "\(reason)")
        }
    }

    @Test func aCleanCloseLeavesAMarkerThatOpeningTakes() async throws {
        let directory = try await Self.storeWithBlocks("opening-clean")
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = CleanShutdownMarker.markerPath(Self.database(directory))
        #expect(FileManager.default.fileExists(atPath: marker))
        let store = try LogStore(directory: directory)
        // In use: a crash from here on must lead to the full check.
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(await (try store.writableLog(name: "room")).length == 2_000)
        try await store.close()
        #expect(FileManager.default.fileExists(atPath: marker))
    }

    @Test(arguments: [true, false]) func aStoreCutShortIsAClearErrorNamingItsFile(closedCleanly: Bool) async throws {
        let directory = try await Self.storeWithBlocks("opening-truncated")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = Self.database(directory)
        if !closedCleanly { unlink(CleanShutdownMarker.markerPath(path)) }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(truncate(path, off_t(size / 2)) == 0)
        try Self.expectOpeningFailsNamingTheFile(directory, "a store cut in half")
    }

    @Test func aStoreOverwrittenWithJunkIsAClearErrorNamingItsFile() async throws {
        let directory = try await Self.storeWithBlocks("opening-junk")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = Self.database(directory)
        try Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: path))
        try Self.expectOpeningFailsNamingTheFile(directory, "a junk store")
    }

    /// A core row edited into values of the wrong type is a clear error when the log is opened, not a trap.
    @Test(arguments: ["length = 'long'", "fork = 'x'", "signature = 5", "contiguous_length = x'00'"])
    func aCoreRowOfTheWrongTypesIsAClearError(_ edit: String) async throws {
        let directory = try await Self.storeWithBlocks("opening-types")
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try DatabaseQueue(path: Self.database(directory))
        try await queue.write { try $0.execute(sql: "UPDATE core SET \(edit)") }
        try queue.close()
        let store = try LogStore(directory: directory)
        await #expect(throws: HyperLogError.self) { try await store.writableLog(name: "room") }
        try await store.close()
    }
}
