import Foundation
import HyperLog
@testable import PearBridge
import Testing

/// What only the stored ledger has: batches that keep all or nothing (its caches included), and values past 2^63.
@Suite struct StoredRoomLedgerTests {
    struct Abandoned: Error {}

    static func index() throws -> RoomIndex {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stored-ledger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try RoomIndex(path: directory.appendingPathComponent(RoomIndex.fileName).path)
    }

    static func line(_ author: UInt8, _ index: UInt64, _ lamport: UInt64, _ kind: RoomEntry.Kind = .message) -> RoomHistory.Line {
        RoomHistory.Line(
            position: RoomHistory.Position(lamport: lamport, author: [UInt8](repeating: author, count: 32), index: index),
            entry: RoomEntry(kind: kind, timestamp: lamport, lamport: lamport, text: "l\(lamport)"))
    }

    @Test func aRolledBackBatchLeavesNothingBehindNotEvenInTheCaches() throws {
        let index = try Self.index()
        let ledger = try index.ledger(for: RoomTopic(foldedChannelName: "#batch"))
        try index.batch { #expect(ledger.insert(Self.line(1, 0, 1))) }
        #expect(ledger.maximumLamport == 1)
        #expect(throws: Abandoned.self) {
            try index.batch {
                #expect(ledger.insert(Self.line(1, 1, 5)))
                ledger.setProgress(of: [UInt8](repeating: 1, count: 32), length: 2, pending: [])
                // Seen inside the batch, as the rules need.
                #expect(ledger.lamport(of: [UInt8](repeating: 1, count: 32), at: 1) == 5)
                #expect(ledger.maximumLamport == 5)
                throw Abandoned()
            }
        }
        #expect(ledger.lamport(of: [UInt8](repeating: 1, count: 32), at: 1) == nil)
        #expect(ledger.maximumLamport == 1)
        #expect(ledger.progress().isEmpty)
        #expect(ledger.chatLines(after: nil, before: nil, limit: 10, newest: false).map(\.entry.text) == ["l1"])
    }

    /// Clocks, indices and timestamps are unsigned 64-bit and a hostile entry may use the top of the range: they
    /// keep their order (stored with the top bit flipped).
    @Test func valuesPastTwoToTheSixtyThirdKeepTheirOrder() throws {
        let index = try Self.index()
        let ledger = try index.ledger(for: RoomTopic(foldedChannelName: "#big"))
        for (lamport, author) in [(UInt64.max, UInt8(1)), (1 << 63, 2), ((1 << 63) - 1, 3), (0, 4), (7, 5)] {
            #expect(ledger.insert(Self.line(author, UInt64.max - UInt64(author), lamport)))
        }
        let order = ledger.chatLines(after: nil, before: nil, limit: 10, newest: false).map(\.position.lamport)
        #expect(order == [0, 7, (1 << 63) - 1, 1 << 63, UInt64.max])
        #expect(ledger.maximumLamport == UInt64.max)
        #expect(ledger.lamport(of: [UInt8](repeating: 2, count: 32), at: UInt64.max - 2) == 1 << 63)
        #expect(ledger.latestChatTimestamp == UInt64.max)
    }

    /// An index edited or damaged into values of the wrong type (text where clocks belong, NULLs) is bad input: the
    /// ledger skips what it cannot read, and never stops the process.
    @Test func wrongTypedValuesInTheIndexAreSkippedNotFatal() throws {
        let index = try Self.index()
        let topic = RoomTopic(foldedChannelName: "#edited")
        let ledger = try index.ledger(for: topic)
        #expect(ledger.insert(Self.line(1, 0, 1)))
        #expect(ledger.insert(Self.line(1, 1, 2, .nick)))
        ledger.setProgress(of: [UInt8](repeating: 1, count: 32), length: 2, pending: [])
        ledger.await(RoomLedgerHead(writer: [UInt8](repeating: 2, count: 32), index: 0), by: RoomLedgerWaiter(author: [1], index: 1, lamport: 2))
        try index.queue.write { db in
            try db.execute(sql: "UPDATE entry SET lamport = 'not a clock', timestamp = x'00' WHERE kind = ?", arguments: [RoomIndex.stored(4)])
            try db.execute(sql: "UPDATE entry SET text = x'ff00' , author = 'text' WHERE kind = ?", arguments: [RoomIndex.stored(0)])
            try db.execute(sql: "UPDATE writer SET length = 'long', pending = 'x'")
            try db.execute(sql: "UPDATE awaited SET lamport = 'late'")
        }
        let back = try index.ledger(for: topic)
        _ = back.chatLines(after: nil, before: nil, limit: 10, newest: true)
        _ = back.entries(ofKinds: [.nick, .topic, .identity])
        _ = back.lamport(of: [UInt8](repeating: 1, count: 32), at: 1)
        _ = back.maximumLamport
        _ = back.earliestTimestamp
        _ = back.latestChatTimestamp
        #expect(back.progress().isEmpty)
        #expect(back.takeWaiters(of: RoomLedgerHead(writer: [UInt8](repeating: 2, count: 32), index: 0)).isEmpty)
        _ = RoomState(topic: topic, localWriter: [UInt8](repeating: 9, count: 32), fold: { $0 }, restoringFrom: back)
    }
}
