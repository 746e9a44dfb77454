import Foundation
import IRCServer
import Testing

/// `keyedJoinsChooseRooms` (the gateway's private rooms): the key of the first local member's JOIN reaches the
/// backend, a local JOIN with another key while local members are in the channel is refused, and our user leaves a
/// room when their last client here parts it.
@Suite struct KeyedJoinTests {
    static func server() -> ServerHarness {
        ServerHarness { $0.keyedJoinsChooseRooms = true }
    }

    static func joins(_ server: ServerHarness) -> [BackendRequest] {
        server.backendRequests.filter { if case .joined = $0 { true } else { false } }
    }

    @Test func theFirstLocalJoinsKeyChoosesTheRoomAndAnotherKeyIsRefused() {
        var server = Self.server()
        let one = server.register("alice")
        let two = server.register("alice2")
        // Remote members keep a channel alive after our user left: they do not make a local join a later one.
        server.record(server.state.backendEvent(
            .remoteJoined(channel: "#team", user: RemoteUser(id: "k", nick: "bob", user: "pear", host: "h.pear", realName: "bob")), now: server.now))
        server.send(one, "JOIN #team s3cret")
        #expect(Self.joins(server) == [.joined(channel: "#team", nick: "alice", key: "s3cret")])
        let refused = server.send(two, "JOIN #team other")
        #expect(refused.first?.contains(" 475 alice2 #team :") == true, "\(refused)")
        server.send(two, "JOIN #team")
        server.send(two, "PART #team")
        server.send(two, "JOIN #team s3cret")
        #expect(Self.joins(server).dropFirst() == [.joined(channel: "#team", nick: "alice2"), .joined(channel: "#team", nick: "alice2")],
            "later joins enter the room the channel is")
    }

    @Test func ourUserLeavesWithTheirLastClient() {
        var server = Self.server()
        let one = server.register("alice")
        let two = server.register("alice2")
        server.send(one, "JOIN #room")
        server.send(two, "JOIN #room")
        server.send(one, "PART #room")
        #expect(!server.backendRequests.contains { if case .parted = $0 { true } else { false } })
        server.send(two, "PART #room :bye")
        #expect(server.backendRequests.contains(.parted(channel: "#room", nick: "alice2", reason: "bye")))
    }

    /// Several people on one gateway: a keyed channel is the private room of the people who joined it with its key;
    /// another person's JOIN without the key is refused, with it reaches the backend (they enter it too); each person
    /// leaves the room when their own last client parts, whoever else stays.
    @Test func anotherPersonEntersAPrivateRoomOnlyWithItsKeyAndLeavesOnTheirOwn() {
        var server = Self.server()
        let alice = server.registerLoggedIn("alice", account: "alice")
        let bob = server.registerLoggedIn("bob", account: "bob")
        server.send(alice, "JOIN #team s3cret")
        let refused = server.send(bob, "JOIN #team")
        #expect(refused.first?.contains(" 475 bob #team :Cannot join channel (+k): a private room here") == true, "\(refused)")
        #expect(server.send(bob, "JOIN #team other").first?.contains(" 475 bob #team :") == true)
        server.send(bob, "JOIN #team s3cret")
        #expect(Self.joins(server) == [
            .joined(channel: "#team", nick: "alice", key: "s3cret"), .joined(channel: "#team", nick: "bob", key: "s3cret"),
        ])
        #expect(server.backendAccounts.suffix(1) == ["bob"])
        server.send(bob, "PART #team :later")
        #expect(server.backendRequests.last == .parted(channel: "#team", nick: "bob", reason: "later"))
        #expect(server.backendAccounts.last == "bob")
        // The backend refuses a join it was told of (the gateway: a private room of someone else's after a restart):
        // the person's clients leave, told why; nobody else does, and the backend is not told of a part.
        server.send(bob, "JOIN #team s3cret")
        let before = server.backendRequests.count
        server.record(server.state.backendEvent(.joinRefused(channel: "#team", account: "BOB", reason: "not yours"), now: server.now))
        #expect(server.received[bob]?.contains { $0.contains(" 475 bob #team :Cannot join channel (+k): not yours") } == true)
        #expect(server.received[alice]?.contains { $0.hasPrefix(":bob!") && $0.contains(" PART #team :not yours") } == true)
        let names = server.send(alice, "NAMES #team").first { $0.contains(" 353 ") } ?? ""
        #expect(names.hasSuffix(" #team @alice"), "\(names)")
        #expect(server.backendRequests.count == before)
    }

    /// Without the setting (the standalone server): a key on a channel without +k is ignored, as RFC 2812 has it.
    @Test func withoutTheSettingKeysAreIgnoredOnUnkeyedChannels() {
        var server = ServerHarness()
        let one = server.register("alice")
        let two = server.register("bob")
        server.send(one, "JOIN #room")
        #expect(server.send(two, "JOIN #room whatever").contains { $0.contains(" JOIN #room") })
    }
}
