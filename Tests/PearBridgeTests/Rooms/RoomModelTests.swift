import Foundation
import CompactEncoding
import HyperLog
import PearBridge
import Sodium
import TestVectors
import Testing

@Suite struct RoomTopicTests {
    @Test func derivationIsVersionedAndStable() {
        let topic = RoomTopic(foldedChannelName: "#rust")
        #expect(topic.bytes.count == 32)
        #expect(topic == RoomTopic(foldedChannelName: "#rust"))
        #expect(topic != RoomTopic(foldedChannelName: "#go"))
        #expect(RoomTopic.namespace == HolepunchNamespace.derive("pearirc/room", count: 1)[0])
        #expect(topic.logName.hasPrefix("room/"))
        #expect(RoomTopic(bytes: [1, 2]) == nil)
    }

    /// The DHT topic a room is announced under: pinned (computed with Python's hashlib from the documented
    /// derivation), because gateways whose derivations differ never find each other.
    @Test func discoveryTopicIsPinned() {
        let topic = RoomTopic(foldedChannelName: "#rust")
        let hex = topic.discoveryTopic.map { String(format: "%02x", $0) }.joined()
        #expect(hex == "99899d7b7597f5f03182982b0f1c9d58b79a9f5ca72cc17b531606fba00201af")
        #expect(topic.discoveryTopic != topic.bytes)
    }
}

@Suite struct RoomEntryTests {
    @Test func roundTripsEveryKind() throws {
        for kind in RoomEntry.Kind.allCases {
            let entry = RoomEntry(
                kind: kind, timestamp: 1_764_000_000_000, lamport: 42,
                heads: [.init(writer: [UInt8](repeating: 7, count: 32), length: 9)], text: "héllo \(kind)")
            #expect(try RoomEntry.decode(entry.encoded()) == .entry(entry))
        }
    }

    @Test func anOptionalMessageIDTravelsAndBadOnesAreDropped() throws {
        let entry = RoomEntry(kind: .message, timestamp: 1, lamport: 1, text: "hi", messageID: "abc-12.x_y")
        #expect(try RoomEntry.decode(entry.encoded()) == .entry(entry))
        #expect(RoomEntry(kind: .message, timestamp: 1, lamport: 1, text: "hi", messageID: "has space").messageID == nil)
        #expect(RoomEntry(kind: .message, timestamp: 1, lamport: 1, text: "hi", messageID: String(repeating: "a", count: 65)).messageID == nil)
        // A decoder reading an entry whose msgid field is malformed keeps the line and drops the id.
        let bare = RoomEntry(kind: .message, timestamp: 1, lamport: 1, text: "hi").encoded()
        guard case .entry(let decoded) = try RoomEntry.decode(bare + [5, 0x61]) else {
            Issue.record("expected an entry")
            return
        }
        #expect(decoded.text == "hi" && decoded.messageID == nil)
    }

    @Test func layoutIsTheDocumentedOne() {
        let entry = RoomEntry(kind: .action, timestamp: 300, lamport: 2, heads: [], text: "hi")
        // version 1, kind 1, timestamp 300 (fd 2c 01), lamport 2, no heads, "hi".
        #expect(Hex.encode(entry.encoded()) == "0101fd2c0102" + "00" + "026869")
    }

    @Test func newerVersionsAndUnknownKindsAreSkippedNotFatal() throws {
        #expect(try RoomEntry.decode([2, 0, 0]) == .unsupported(version: 2, kind: nil))
        var writer = CompactByteWriter()
        writer.writeUInt(1); writer.writeUInt(77); writer.writeUInt(1); writer.writeUInt(1)
        writer.writeUInt(0); writer.writeString("future")
        #expect(try RoomEntry.decode(writer.bytes) == .unsupported(version: 1, kind: 77))
    }

    @Test func malformedBlocksAreErrors() {
        let bytes = RoomEntry(kind: .message, timestamp: 1, lamport: 1, text: "hello").encoded()
        for length in 0..<bytes.count {
            #expect(throws: CompactEncodingError.self) { try RoomEntry.decode(Array(bytes.prefix(length))) }
        }
        var rng = SeededGenerator(seed: 31)
        for _ in 0..<5000 { _ = try? RoomEntry.decode(rng.bytes(Int.random(in: 0...64, using: &rng))) }
        // A head count that cannot fit is refused before allocation.
        #expect(throws: CompactEncodingError.self) { try RoomEntry.decode([1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f]) }
    }
}

@Suite struct RoomHistoryTests {
    static func line(_ lamport: UInt64, _ author: UInt8, _ index: UInt64, _ text: String = "") -> RoomHistory.Line {
        RoomHistory.Line(
            position: .init(lamport: lamport, author: [UInt8](repeating: author, count: 32), index: index),
            entry: RoomEntry(kind: .message, timestamp: 0, lamport: lamport, text: text))
    }

    @Test func everyArrivalOrderGivesTheSameHistory() {
        let lines = [
            Self.line(1, 2, 0), Self.line(1, 1, 0), Self.line(2, 1, 1), Self.line(2, 2, 1), Self.line(3, 1, 2),
            Self.line(5, 3, 0), Self.line(4, 2, 2),
        ]
        var reference = RoomHistory()
        for line in lines { reference.insert(line) }
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<50 {
            var history = RoomHistory()
            for line in lines.shuffled(using: &rng) { history.insert(line) }
            #expect(history.lines == reference.lines)
        }
        #expect(reference.lines.map(\.position.lamport) == [1, 1, 2, 2, 3, 4, 5])
        #expect(reference.lines[0].position.author.first == 1, "ties break by author key")
        #expect(reference.maximumLamport == 5)
        let insertedAgain = reference.insert(Self.line(1, 1, 0))
        #expect(!insertedAgain, "a duplicate is ignored")
        #expect(reference.lines.count == 7)
    }

    @Test func windowsForChathistory() {
        var history = RoomHistory()
        for i in 0..<10 { history.insert(Self.line(UInt64(i), 1, UInt64(i))) }
        #expect(history.latest(3).map(\.position.index) == [7, 8, 9])
        let middle = history.lines[5].position
        #expect(history.before(middle, count: 2).map(\.position.index) == [3, 4])
        #expect(history.after(middle, count: 2).map(\.position.index) == [6, 7])
        #expect(history.before(history.lines[0].position, count: 5).isEmpty)
        #expect(history.latest(100).count == 10)
    }
}

@Suite struct NickDirectoryTests {
    static let fold: @Sendable (String) -> String = { $0.lowercased() }
    static let alice = [UInt8](repeating: 1, count: 32)
    static let mallory = [UInt8](repeating: 2, count: 32)

    @Test func collisionsGetADeterministicSuffix() {
        var directory = NickDirectory(fold: Self.fold)
        directory.claim(author: Self.alice, nick: "alice", position: .init(lamport: 1, author: Self.alice, index: 0))
        directory.claim(author: Self.mallory, nick: "Alice", position: .init(lamport: 3, author: Self.mallory, index: 0))
        #expect(directory.displayNick(for: Self.alice, localNick: "bob") == "alice")
        let suffixed = directory.displayNick(for: Self.mallory, localNick: "bob")
        #expect(suffixed == "Alice|" + ZBase32.encode(Self.mallory).prefix(4))
        // The local user's nick is never taken by a remote author.
        #expect(directory.displayNick(for: Self.alice, localNick: "ALICE").hasPrefix("alice|"))
        // A later nick entry replaces the wish; an older one does not.
        directory.claim(author: Self.mallory, nick: "mallory", position: .init(lamport: 4, author: Self.mallory, index: 1))
        directory.claim(author: Self.mallory, nick: "stale", position: .init(lamport: 2, author: Self.mallory, index: 5))
        #expect(directory.displayNick(for: Self.mallory, localNick: nil) == "mallory")
        #expect(NickDirectory.fallbackNick(for: Self.alice).hasPrefix("pear-"))
    }
}
