import Foundation
import GRDB
import HyperLog
@testable import PearBridge
import Sodium
import Testing

/// A room of 1,000,000 entries from ten writers, generated straight into a history index, opens (from the few facts
/// it keeps beside the history) and answers CHATHISTORY LATEST, BEFORE, AFTER, AROUND and BETWEEN exactly as the
/// in-order truth says.
@Suite struct LargeRoomTests {
    static let entries = 1_000_000
    static let writers = 10
    static let firstTime: UInt64 = 1_780_000_000_000
    static let topic = RoomTopic(foldedChannelName: "#large")

    /// Entry x (0 ≤ x < 1,000,000) is writer x % 10's entry x / 10, clock x + 1, time firstTime + x: the first of each
    /// writer names it, every other is the chat line "line x", and every seventh carries a msgid of its own.
    static func generate(_ index: RoomIndex, authors: [[UInt8]]) throws {
        _ = try index.ledger(for: topic)
        try index.queue.write { db in
            let room = try Int64.fetchOne(db, sql: "SELECT id FROM room WHERE topic = ?", arguments: [Data(topic.bytes)])!
            try db.execute(sql: "CREATE TEMP TABLE generated_writer (k INTEGER PRIMARY KEY, author BLOB NOT NULL)")
            for (k, author) in authors.enumerated() {
                try db.execute(sql: "INSERT INTO generated_writer VALUES (?, ?)", arguments: [k, Data(author)])
                try db.execute(
                    sql: "INSERT INTO writer (room, author, length, pending) VALUES (?, ?, ?, NULL)",
                    arguments: [room, Data(author), RoomIndex.stored(UInt64(entries / writers))])
            }
            // Stored values have their top bit flipped (RoomIndex): v - 2^63 for these small ones.
            let flip = "- 9223372036854775807 - 1"
            try db.execute(
                sql: """
                    WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < \(entries - 1))
                    INSERT INTO entry (room, lamport, author, idx, kind, timestamp, msgid, text)
                    SELECT ?, (x + 1) \(flip), w.author, (x / \(writers)) \(flip),
                        (CASE WHEN x < \(writers) THEN 4 ELSE 0 END) \(flip), (? + x) \(flip),
                        CASE WHEN x % 7 = 3 AND x >= \(writers) THEN 'own' || w.k || '.m' || x END,
                        CASE WHEN x < \(writers) THEN 'writer' || w.k ELSE 'line ' || x END
                    FROM n JOIN generated_writer w ON w.k = x % \(writers)
                    """,
                arguments: [room, Int64(firstTime)])
        }
    }

    @Test func aMillionEntryRoomOpensAndServesEveryWindowCorrectly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("large-room-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let index = try RoomIndex(path: directory.appendingPathComponent(RoomIndex.fileName).path)
        let authors = (0..<Self.writers).map { _ in RandomBytes.generate(count: 32) }
        try Self.generate(index, authors: authors)

        // Opening reads the writers' progress and the ten nick entries, not the history.
        let room = RoomRecord(
            channel: "#large", topic: Self.topic, person: authors[0], ownWriter: authors[0], rule: CappedWriterAdmission(maximum: 16),
            fold: { $0.lowercased() }, ledger: try index.ledger(for: Self.topic))
        #expect(room.state.writerLengths.count == Self.writers)
        #expect(room.state.writerLengths.values.allSatisfy { $0 == UInt64(Self.entries / Self.writers) })
        #expect(room.state.displayNick(for: authors[3]) == "writer3")
        #expect(room.state.ledger.maximumLamport == UInt64(Self.entries))
        #expect(room.state.latestLineTimestamp == Self.firstTime + UInt64(Self.entries - 1))
        // A new local line goes after everything.
        #expect(room.state.composeLocal(kind: .message, text: "next", timestamp: 0).lamport == UInt64(Self.entries + 1))

        func texts(_ window: RoomHistoryWindow) -> [String] {
            window.select(from: room.state.ledger, derivedLine: room.line(derivedID:)).compactMap(room.chatLine).map(\.text)
        }
        /// The chat lines numbered in `range` (lines are numbered from 10: the first ten entries are nicks).
        func truth(_ range: Range<Int>) -> [String] {
            range.clamped(to: Self.writers..<Self.entries).map { "line \($0)" }
        }
        func id(_ x: Int) -> RoomHistoryWindow.Reference {
            let author = authors[x % Self.writers]
            let own = x % 7 == 3 ? "own\(x % Self.writers).m\(x)" : nil
            return .messageID(own ?? "\(ZBase32.encode(author).prefix(12))-\(x / Self.writers)")
        }
        func time(_ x: Int) -> RoomHistoryWindow.Reference { .time(Self.firstTime + UInt64(x)) }

        #expect(texts(.latest(limit: 50)) == truth(Self.entries - 50..<Self.entries))
        var generator = SystemRandomNumberGenerator()
        let points = [10, 11, 24, 999_999, 999_990] + (0..<40).map { _ in Int.random(in: 10..<Self.entries, using: &generator) }
        for x in points {
            for limit in [1, 50, 100] {
                #expect(texts(.before(id(x), limit: limit)) == truth(x - limit..<x), "before \(x) \(limit)")
                #expect(texts(.after(id(x), limit: limit)) == truth(x + 1..<x + 1 + limit), "after \(x) \(limit)")
                let earlier = min(limit / 2, x - Self.writers)
                #expect(texts(.around(id(x), limit: limit)) == truth(x - earlier..<x - earlier + limit), "around \(x) \(limit)")
                #expect(texts(.before(time(x), limit: limit)) == truth(x - limit..<x), "before time \(x) \(limit)")
                #expect(texts(.after(time(x), limit: limit)) == truth(x + 1..<x + 1 + limit), "after time \(x) \(limit)")
            }
            let y = min(Self.entries - 1, x + 500)
            guard y > x else { continue }
            #expect(texts(.between(id(x), id(y), limit: 100)) == truth(x + 1..<min(y, x + 101)), "between \(x) \(y)")
            #expect(texts(.between(id(y), id(x), limit: 100)) == truth(max(x + 1, y - 100)..<y), "between \(y) \(x)")
        }
    }
}
