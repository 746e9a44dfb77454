import Foundation
import HyperLog
import PearBridge
import Testing

/// A room where the gateway speaks for several people (issue 20): each local person writes with a log of their own,
/// their entries name the others' logs as heads, their nicks are reserved against remote look-alikes, and each is
/// shown under the nick their person has now.
@Suite struct RoomLocalPeopleTests {
    static let first = [UInt8](repeating: 0xaa, count: 32)
    static let second = [UInt8](repeating: 0xbb, count: 32)
    static let remote = [UInt8](repeating: 0x01, count: 32)

    static func room() -> RoomState {
        var room = RoomState(topic: RoomTopic(foldedChannelName: "#home"), localWriter: first, fold: { $0.lowercased() })
        room.addLocalWriter(second)
        room.setLocalNick("alice")
        room.setLocalNick("bob", for: second)
        return room
    }

    @Test func eachLocalPersonComposesWithTheOthersAsHeads() {
        var room = Self.room()
        let fromFirst = room.composeLocal(kind: .message, text: "one", timestamp: 1)
        _ = room.ingest(author: Self.first, index: 0, block: fromFirst.encoded())
        let fromSecond = room.composeLocal(kind: .message, text: "two", timestamp: 2, by: Self.second)
        #expect(fromSecond.heads == [RoomEntry.Head(writer: Self.first, length: 1)])
        #expect(fromSecond.lamport > fromFirst.lamport)
        _ = room.ingest(author: Self.second, index: 0, block: fromSecond.encoded())
        let again = room.composeLocal(kind: .message, text: "three", timestamp: 3)
        #expect(again.heads == [RoomEntry.Head(writer: Self.second, length: 1)])
        let batch = room.composeLocal([.init(kind: .nick, text: "bobby", timestamp: 4)], by: Self.second)
        #expect(batch.first?.heads == [RoomEntry.Head(writer: Self.first, length: 1)])
    }

    @Test func everyLocalNickIsReservedAndEachLocalPersonShowsUnderTheirs() {
        var room = Self.room()
        _ = room.ingest(author: Self.remote, index: 0, block: RoomEntry(kind: .nick, timestamp: 1, lamport: 1, text: "Bob").encoded())
        #expect(room.displayNick(for: Self.remote).hasPrefix("Bob|"))
        // Shown suffixed, the remote author does not come to hold the nick here.
        let heldByRemote = room.showed(Self.remote)
        #expect(!heldByRemote && room.nickHolders["bob"] == nil)
        #expect(room.displayNick(for: Self.second) == "bob")
        #expect(room.displayNick(for: Self.first) == "alice")
        let heldBySecond = room.showed(Self.second)
        #expect(!heldBySecond, "local people are not recorded as nick holders")
        #expect(room.localWriters == [Self.first, Self.second])
        // The second person renames: their old nick is free for the remote author again.
        room.setLocalNick("robert", for: Self.second)
        #expect(room.displayNick(for: Self.remote) == "Bob")
        #expect(room.displayNick(for: Self.second) == "robert")
    }
}
