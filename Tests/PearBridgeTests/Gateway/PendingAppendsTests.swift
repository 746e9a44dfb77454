import Testing

@testable import PearBridge

@Suite struct PendingAppendsTests {
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
        pending.add(.init(entries: [Self.entry("one")], completion: first), to: rust)
        pending.add(.init(entries: [Self.entry("elsewhere")], completion: nil), to: swift)
        pending.add(.init(entries: [Self.entry("two"), Self.entry("three")], completion: second), to: rust)
        #expect(!pending.isEmpty)

        let commits = pending.takeAll()
        #expect(commits.map(\.topic) == [rust, swift])
        #expect(commits[0].blocks == ["one", "two", "three"].map { Self.entry($0).encoded() })
        #expect(commits[0].completions.map(ObjectIdentifier.init) == [first, second].map(ObjectIdentifier.init))
        #expect(commits[1].blocks == [Self.entry("elsewhere").encoded()] && commits[1].completions.isEmpty)
        #expect(pending.isEmpty && pending.takeAll().isEmpty)
    }
}
