import Foundation
import HyperLog
import Testing

/// A writable log whose database was lost (the keys kept) must not fork: it refuses appends until a peer has given
/// back what it had, then goes on where it was.
@Suite struct RecoveryTests {
    static func loseDatabase(in directory: URL) throws {
        let database = directory.appendingPathComponent(LogStore.databaseFileName).path
        _ = truncate(database, 0)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
    }

    static func lines(_ range: Range<Int>) -> [[UInt8]] { range.map { Array("line \($0)".utf8) } }

    static func caughtUp(_ log: SignedLog, to length: UInt64) async -> Bool {
        let (current, contiguous) = (await log.length, await log.contiguousLength)
        return current == length && contiguous == length
    }

    /// Sets up a writer with 50 blocks and a peer that replicated them; returns both stores' logs.
    static func writerAndPeer(_ root: URL) async throws -> (peerStore: LogStore, peer: SignedLog) {
        let writerStore = try LogStore(directory: root.appendingPathComponent("writer"))
        let writer = try await writerStore.writableLog(name: "room")
        try await writer.append(lines(0..<50))
        let peerStore = try LogStore(directory: root.appendingPathComponent("peer"))
        let peer = try await peerStore.replica(key: writer.key)
        let pair = try await ReplicationLoopback.connect(initiator: writer, responder: peer)
        #expect(await pair.pump { await caughtUp(peer, to: 50) })
        await pair.stop()
        try await writerStore.close()
        return (peerStore, peer)
    }

    @Test func aLostDatabaseIsNoticedFromTheLengthKeptOutsideIt() async throws {
        let root = temporaryStoreDirectory("recovery")
        defer { try? FileManager.default.removeItem(at: root) }
        let (_, peer) = try await Self.writerAndPeer(root)
        try Self.loseDatabase(in: root.appendingPathComponent("writer"))

        let store = try LogStore(directory: root.appendingPathComponent("writer"))
        let writer = try await store.writableLog(name: "room")
        #expect(await writer.length == 0)
        #expect(await writer.isBehind)
        await #expect(throws: HyperLogError.behind(have: 0, expected: 50)) { try await writer.append(Self.lines(50..<51)) }

        // A peer that holds the log gives it back; then appends continue it, and the peer accepts them (no fork).
        let pair = try await ReplicationLoopback.connect(initiator: peer, responder: writer)
        #expect(await pair.pump { await Self.caughtUp(writer, to: 50) })
        #expect(await !writer.isBehind)
        #expect(try await writer.get(49) == Array("line 49".utf8))
        try await writer.append(Self.lines(50..<51))
        #expect(await pair.pump { await Self.caughtUp(peer, to: 51) })
        #expect(await pair.initiator.closeReason == nil)
        #expect(await pair.responder.closeReason == nil)
        try await peer.verifyEverything()
        await pair.stop()
    }

    /// Without the length file too (a store from before it existed, or all of it restored from an old copy), the
    /// peer's longer signed copy is what tells: the writer asks for the peer's head, verifies our own signature on
    /// it, and recovers the same way.
    @Test func aLostDatabaseIsNoticedFromAPeersSignedHead() async throws {
        let root = temporaryStoreDirectory("recovery")
        defer { try? FileManager.default.removeItem(at: root) }
        let (_, peer) = try await Self.writerAndPeer(root)
        let writerDirectory = root.appendingPathComponent("writer")
        try Self.loseDatabase(in: writerDirectory)
        try FileManager.default.removeItem(at: writerDirectory.appendingPathComponent(LogStore.expectedLengthsDirectoryName))

        let store = try LogStore(directory: writerDirectory)
        let writer = try await store.writableLog(name: "room")
        #expect(await !writer.isBehind, "nothing local says it is behind")
        let pair = try await ReplicationLoopback.connect(initiator: peer, responder: writer)
        #expect(await pair.pump { await Self.caughtUp(writer, to: 50) })
        #expect(await writer.expectedLength == 50)
        try await writer.append(Self.lines(50..<51))
        #expect(await pair.pump { await Self.caughtUp(peer, to: 51) })
        try await peer.verifyEverything()
        await pair.stop()
    }

    /// Junk in a log's expected-length file (a huge number, the wrong size, another log's record) is reported and
    /// ignored, never taken as a length that would refuse the log for good; the next append records it again.
    @Test(arguments: ["huge", "short", "foreign"]) func aDamagedExpectedLengthFileIsIgnoredAndReported(_ damage: String) async throws {
        let directory = temporaryStoreDirectory("expected-length-\(damage)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "room")
        try await log.append(Self.lines(0..<5))
        let other = try await store.writableLog(name: "other")
        try await other.append(Self.lines(0..<9))
        try await store.close()
        let files = directory.appendingPathComponent(LogStore.expectedLengthsDirectoryName)
        let file = files.appendingPathComponent(try DiscoveryKey.of(log.key).map { String(format: "%02x", $0) }.joined())
        let otherFile = files.appendingPathComponent(try DiscoveryKey.of(other.key).map { String(format: "%02x", $0) }.joined())
        #expect(try Data(contentsOf: file).count == 16)
        switch damage {
        case "huge": try Data([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f] + [UInt8](repeating: 0, count: 8)).write(to: file)
        case "short": try Data([0x07]).write(to: file)
        default: try Data(contentsOf: otherFile).write(to: file)
        }

        store = try LogStore(directory: directory)
        let reopened = try await store.writableLog(name: "room")
        #expect(await reopened.expectedLengthFileUnreadable == file.path)
        #expect(await reopened.isBehind == false)
        #expect(try await reopened.append(Self.lines(5..<6)) == 6)
        try await store.close()
        store = try LogStore(directory: directory)
        let again = try await store.writableLog(name: "room")
        #expect(await again.expectedLengthFileUnreadable == nil)
        #expect(await again.expectedLength == 6)
        try await store.close()
    }
}
