import Foundation
import IRCServer
import Testing

/// `carriesRemotePrivateMessages` (the gateway's direct messages): a private message to a remote user, or to a target
/// not known here, goes to the backend and is echoed only once stored; what became of it is told as IRC would
/// (RPL_AWAY for a held message, ERR_NOSUCHNICK for nobody, FAIL for a line not stored). Remote people's private
/// messages reach every local client, or wait for the next one.
@Suite struct RemotePrivateMessageTests {
    static func server() -> ServerHarness {
        ServerHarness { $0.carriesRemotePrivateMessages = true }
    }

    static let bob = RemoteUser(id: "bobkey", nick: "bob", user: "pear", host: "bobhost.pear", realName: "bob")

    /// The private messages handed to the backend to carry, in order, and forgets them.
    static func carried(_ server: inout ServerHarness) -> [(token: UInt64, userID: String?, target: String, text: String, kind: ChatLineKind)] {
        defer { server.otherActions.removeAll { if case .carryPrivate = $0 { true } else { false } } }
        return server.otherActions.compactMap { action in
            guard case .carryPrivate(_, let token, .remoteDirectMessage(let userID, let target, _, let kind, let text, _, _), _, _) = action
            else { return nil }
            return (token, userID, target, text, kind)
        }
    }

    @Test func aMessageToARemoteUserIsEchoedOnceCarriedAndHeldOnesSayAway() {
        var server = Self.server()
        let alice = server.register("alice", caps: ["echo-message"])
        server.send(alice, "JOIN #room")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#room", user: Self.bob), now: server.now))
        server.inbox(alice)

        #expect(server.send(alice, "PRIVMSG Bob :hello").isEmpty, "nothing shown before it is stored")
        server.send(alice, "NOTICE bob :a notice")
        server.send(alice, "PRIVMSG bob :later")
        let requests = Self.carried(&server)
        #expect(requests.map(\.userID) == ["bobkey", "bobkey", "bobkey"])
        #expect(requests.map(\.target) == ["bob", "bob", "bob"])
        #expect(requests.map(\.kind) == [.privmsg, .notice, .privmsg])

        server.record(server.state.privateMessageCarried(requests[0].token, .sent, now: server.now))
        #expect(server.inbox(alice).map { $0.hasSuffix("PRIVMSG bob hello") } == [true])
        // Held: a NOTICE gets no automatic reply; a PRIVMSG gets RPL_AWAY after its echo.
        server.record(server.state.privateMessageCarried(requests[1].token, .held(away: "is not online"), now: server.now))
        #expect(server.inbox(alice).map { $0.hasSuffix("NOTICE bob :a notice") } == [true])
        server.record(server.state.privateMessageCarried(requests[2].token, .held(away: "is not online"), now: server.now))
        let held = server.inbox(alice)
        #expect(held.count == 2 && held[0].hasSuffix("PRIVMSG bob later") && held[1] == ":irc.test 301 alice bob :is not online", "\(held)")
        // Answered twice: nothing more.
        server.record(server.state.privateMessageCarried(requests[2].token, .sent, now: server.now))
        #expect(server.inbox(alice).isEmpty)
    }

    @Test func unknownTargetsGoToTheBackendAndFailuresAreSaid() {
        var server = Self.server()
        let alice = server.register("alice", caps: ["echo-message", "standard-replies"])
        let carol = server.register("carol")
        server.send(alice, "PRIVMSG somebody :are you there")
        server.send(alice, "PRIVMSG bob :lost")
        // Local clients still talk directly.
        #expect(server.send(alice, "PRIVMSG carol :local").count == 1)
        #expect(server.inbox(carol).map { $0.hasSuffix("PRIVMSG carol local") } == [true])
        let requests = Self.carried(&server)
        #expect(requests.map(\.target) == ["somebody", "bob"])
        #expect(requests.allSatisfy { $0.userID == nil })
        server.record(server.state.privateMessageCarried(requests[0].token, .unknownTarget("No one called somebody"), now: server.now))
        server.record(server.state.privateMessageCarried(requests[1].token, .failed("the disk is full"), now: server.now))
        #expect(server.inbox(alice) == [
            ":irc.test 401 alice somebody :No one called somebody",
            ":irc.test FAIL PRIVMSG MESSAGE_NOT_STORED bob :Your message to bob was not stored, so nobody got it: the disk is full",
        ])
    }

    @Test func remotePrivateMessagesReachEveryClientOrWaitForTheNext() {
        var server = Self.server()
        let stranger = RemoteUser(id: "strangerkey", nick: "dave", user: "pear", host: "davehost.pear", realName: "dave")
        // Nobody connected: kept.
        server.record(server.state.backendEvent(
            .remotePrivateMessage(user: stranger, kind: .privmsg, text: "while you slept", id: "m1", time: server.now), now: server.now))
        let alice = server.connect()
        server.send(alice, "NICK alice")
        let welcome = server.send(alice, "USER alice 0 * :alice")
        #expect(welcome.filter { $0.contains(" PRIVMSG ") } == [":dave!pear@davehost.pear PRIVMSG alice :while you slept"])
        #expect(welcome.first?.contains(" 001 ") == true, "after the welcome")
        let second = server.register("alice2")
        server.inbox(alice)
        #expect(!server.inbox(second).contains { $0.contains("while you slept") }, "delivered once")
        // A stranger whose chosen nick is taken here (by a local client, or someone else) is shown under another.
        let impostor = RemoteUser(id: "impostorkey", nick: "alice2", user: "pear", host: "x.pear", realName: "x")
        server.record(server.state.backendEvent(
            .remotePrivateMessage(user: impostor, kind: .privmsg, text: "trust me", id: "m3", time: server.now), now: server.now))
        #expect(server.inbox(alice).map { $0.hasSuffix(":alice2_!pear@x.pear PRIVMSG alice :trust me") } == [true])
        #expect(server.inbox(second).map { $0.hasSuffix(":alice2_!pear@x.pear PRIVMSG alice2 :trust me") } == [true])
        // Both clients see a new one, from the remote user as the server shows them when known.
        server.send(alice, "JOIN #room")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#room", user: Self.bob), now: server.now))
        server.inbox(alice)
        server.record(server.state.backendEvent(
            .remotePrivateMessage(user: Self.bob, kind: .notice, text: "hi both", id: "m2", time: server.now), now: server.now))
        #expect(server.inbox(alice).map { $0.hasSuffix(":bob!pear@bobhost.pear NOTICE alice :hi both") } == [true])
        #expect(server.inbox(second).map { $0.hasSuffix("NOTICE alice2 :hi both") } == [true])
    }

    @Test func historyOfAPrivateTargetIsAskedOfTheBackend() {
        var server = Self.server()
        let alice = server.register("alice", caps: ["batch", "draft/chathistory", "server-time", "message-tags"])
        server.send(alice, "JOIN #room")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#room", user: Self.bob), now: server.now))
        let other = server.register("alice2", caps: ["batch", "draft/chathistory"])
        server.send(alice, "CHATHISTORY LATEST bob * 10")
        // (A second query from the same client waits for the first one's answer.)
        server.send(other, "CHATHISTORY LATEST gone * 10")
        let keys = server.otherActions.compactMap { action -> String? in
            if case .fetchHistory(_, let query, _, _, _) = action { query.channel } else { nil }
        }
        #expect(keys == ["=@id:bobkey/bob", "=@target:gone"])
        #expect(PrivateConversation.remoteTarget(of: keys[0])?.userID == "bobkey" && PrivateConversation.remoteTarget(of: keys[0])?.target == "bob")
        #expect(PrivateConversation.remoteTarget(of: keys[1])?.target == "gone")
        #expect(PrivateConversation.remoteTarget(of: "#room") == nil)
    }

    /// Without the setting (the standalone server), nothing changes: a remote user gets the refusal, nobody 401.
    @Test func withoutTheSettingRemotePrivateMessagesAreRefused() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "JOIN #room")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#room", user: Self.bob), now: server.now))
        server.inbox(alice)
        #expect(server.send(alice, "PRIVMSG bob :hi").first?.contains(" 401 alice bob :") == true)
        #expect(server.send(alice, "PRIVMSG nobody :hi").first?.contains(" 401 alice nobody :No such nick") == true)
        #expect(!server.otherActions.contains { if case .carryPrivate = $0 { true } else { false } })
    }
}
