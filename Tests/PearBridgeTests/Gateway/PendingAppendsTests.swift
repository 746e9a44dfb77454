import Testing

@testable import PearBridge

@Suite struct PendingAppendsTests {
    static let writer = [UInt8](repeating: 7, count: 32)
    static func entry(_ text: String) -> RoomEntry {
        RoomEntry(kind: .message, timestamp: 1, lamport: 1, text: text)
    }

    /// What queued up before a commit is one commit per room, its blocks in the order queued, with every request
    /// that waits on them; taking empties the queue.
    @Test func batchesQueuedTogetherAreOneCommitPerRoomInOrder() {
        let rust = RoomTopic(foldedChannelName: "#rust"), swift = RoomTopic(foldedChannelName: "#swift")
        var pending = PendingAppends()
        #expect(pending.isEmpty)
        let first = RequestCompletion(nil), second = RequestCompletion(nil)
        pending.add(.init(entries: [Self.entry("one")], completion: first), to: rust, writer: Self.writer)
        pending.add(.init(entries: [Self.entry("elsewhere")], completion: nil), to: swift, writer: Self.writer)
        pending.add(.init(entries: [Self.entry("two"), Self.entry("three")], completion: second), to: rust, writer: Self.writer)
        #expect(!pending.isEmpty)

        let commits = pending.takeAll()
        #expect(commits.map(\.topic) == [rust, swift])
        #expect(commits[0].blocks == ["one", "two", "three"].map { Self.entry($0).encoded() })
        #expect(commits[0].completions.map(ObjectIdentifier.init) == [first, second].map(ObjectIdentifier.init))
        #expect(commits[1].blocks == [Self.entry("elsewhere").encoded()] && commits[1].completions.isEmpty)
        #expect(pending.isEmpty && pending.takeAll().isEmpty)
    }

    /// Two of our people writing in one room write to two logs: one commit each, in the order they first queued.
    @Test func twoWritersOfOneRoomAreTwoCommits() {
        let rust = RoomTopic(foldedChannelName: "#rust")
        let other = [UInt8](repeating: 9, count: 32)
        var pending = PendingAppends()
        pending.add(.init(entries: [Self.entry("alice 1")], completion: nil), to: rust, writer: Self.writer)
        pending.add(.init(entries: [Self.entry("bob 1")], completion: nil), to: rust, writer: other)
        pending.add(.init(entries: [Self.entry("alice 2")], completion: nil), to: rust, writer: Self.writer)
        let commits = pending.takeAll()
        #expect(commits.map(\.writer) == [Self.writer, other] && commits.allSatisfy { $0.topic == rust })
        #expect(commits[0].blocks == ["alice 1", "alice 2"].map { Self.entry($0).encoded() })
        #expect(commits[1].blocks == [Self.entry("bob 1").encoded()])
    }
}
