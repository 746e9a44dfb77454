import Foundation
import GRDB
import HyperLog
import Sodium
import TestVectors
import Testing

func temporaryStoreDirectory(_ label: String = "store") -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-\(label)-\(UUID().uuidString)")
}

@Suite struct SignedLogTests {
    @Test func appendGetAndReopen() async throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key: [UInt8]
        do {
            let store = try LogStore(directory: directory)
            let log = try await store.writableLog(name: "room")
            #expect(await log.length == 0)
            #expect(try await log.append([Array("a".utf8), Array("bc".utf8)]) == 2)
            #expect(try await log.append([Array("def".utf8)]) == 3)
            #expect(await log.byteLength == 6)
            #expect(try await log.get(1) == Array("bc".utf8))
            await #expect(throws: HyperLogError.blockNotAvailable(index: 3)) { try await log.get(3) }
            key = log.key
            try await log.verifyEverything()
        }
        // A second store object on the same directory sees the same, verified state.
        let reopened = try LogStore(directory: directory)
        let log = try await reopened.writableLog(name: "room")
        #expect(log.key == key)
        #expect(await log.length == 3)
        #expect(try await log.get(2) == Array("def".utf8))
        #expect(try await reopened.log(discoveryKey: try DiscoveryKey.of(key))?.key == key)
        #expect(try await log.append([[1]]) == 4)
        try await log.verifyEverything()
    }

    @Test func sameNameSameKeyAcrossStoresWithTheSamePrimaryKey() async throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await LogStore(directory: directory).writableLog(name: "x").key
        let second = try await LogStore(directory: directory).writableLog(name: "x").key
        let other = try await LogStore(directory: directory).writableLog(name: "y").key
        #expect(first == second)
        #expect(first != other)
        let attributes = try FileManager.default.attributesOfItem(
            atPath: directory.appendingPathComponent(LogStore.primaryKeyFileName).path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func replicaIsReadOnly() async throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LogStore(directory: directory)
        let author = Ed25519.randomKeyPair()
        let manifest = Manifest.singleSigner(publicKey: author.publicKey)
        let replica = try await store.replica(key: manifest.key, manifest: manifest)
        #expect(!replica.isWritable)
        await #expect(throws: HyperLogError.notWritable) { try await replica.append([[1]]) }
        await #expect(throws: HyperLogError.self) { try await store.replica(key: [1, 2, 3]) }
        await #expect(throws: HyperLogError.self) {
            try await store.replica(key: RandomBytes.generate(count: 32), manifest: manifest)
        }
    }

    @Test func truncateBumpsForkAndResigns() async throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "t")
        try await log.append((0..<7).map { [UInt8($0)] })
        let events = await log.events()
        try await log.truncate(to: 3)
        #expect(await log.length == 3)
        #expect(await log.fork == 1)
        try await log.verifyEverything()
        await #expect(throws: HyperLogError.blockNotAvailable(index: 3)) { try await log.get(3) }
        try await log.append([[42]])
        #expect(try await log.get(3) == [42])
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .truncated(length: 3, fork: 1))
        #expect(await iterator.next() == .appended(length: 4))
        // The truncated, re-signed state survives a reopen.
        let reopened = try await LogStore(directory: directory).writableLog(name: "t")
        #expect(await reopened.fork == 1)
        #expect(await reopened.length == 4)
        try await reopened.verifyEverything()
    }

    @Test func aGarbageDatabaseFileIsAClearError() throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: 9)
        try Data(rng.bytes(8192)).write(to: directory.appendingPathComponent(LogStore.databaseFileName))
        #expect(throws: HyperLogError.self) { try LogStore(directory: directory) }
    }

    @Test func aTruncatedPrimaryKeyIsAClearError() throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: directory.appendingPathComponent(LogStore.primaryKeyFileName))
        #expect(throws: HyperLogError.self) { try LogStore(directory: directory) }
    }

    @Test func tamperedStoredStateIsDetected() async throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let log = try await LogStore(directory: directory).writableLog(name: "victim")
            try await log.append([Array("one".utf8), Array("two".utf8), Array("three".utf8)])
        }
        let path = directory.appendingPathComponent(LogStore.databaseFileName).path
        // A forged block: the signed head still opens, a full verification catches it.
        do {
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in try db.execute(sql: "UPDATE block SET data = x'6f6e45' WHERE idx = 0") }
        }
        do {
            let log = try await LogStore(directory: directory).writableLog(name: "victim")
            await #expect(throws: HyperLogError.self) { try await log.verifyEverything() }
            // Reading the block itself says so (it no longer matches the leaf hash stored with it); the others read.
            do {
                _ = try await log.get(0)
                Issue.record("a forged block was read as valid")
            } catch let error as HyperLogError {
                guard case .corruptStorage(let reason) = error else { throw error }
                #expect(reason.contains("block 0") && reason.contains("does not match its stored hash"), "\(reason)")
            }
            #expect(try await log.get(1) == Array("two".utf8))
            await #expect(throws: HyperLogError.self) { try await log.contiguousBlocks(from: 0) }
        }
        // A forged signature: refused at open.
        do {
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE core SET signature = ?", arguments: [Data(repeating: 1, count: 68)])
            }
        }
        await #expect(throws: HyperLogError.self) {
            try await LogStore(directory: directory).writableLog(name: "victim")
        }
    }
}
