import Foundation
import IRCServer
import Testing

/// Private messages are filed per conversation (by account, else nick) and come back through CHATHISTORY; TARGETS
/// lists channels and conversations by their latest message.
@Suite struct PrivateHistoryTests {
    @Test func privateMessagesAreFiledPerConversationAndQueriedByNick() throws {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["batch", "draft/chathistory", "server-time", "message-tags"])
        let bob = server.register("bob")
        server.send(alice, "PRIVMSG Bob :hello bob")
        let key = PrivateConversation.key("nick:alice", "nick:bob")
        guard case .directMessage(let conversation, let sender, let recipient, let nick, let target, .privmsg, "hello bob", let id, _)?
            = server.backendRequests.last
        else {
            Issue.record("no private message filed: \(server.backendRequests)")
            return
        }
        #expect(conversation == key && sender == "nick:alice" && recipient == "nick:bob")
        #expect(nick == "alice" && target == "bob" && !id.isEmpty)
        // TAGMSG carries no text: nothing filed.
        let filed = server.backendRequests.count
        server.send(alice, "@+typing=active TAGMSG bob")
        #expect(server.backendRequests.count == filed)

        // Either side asks by the other's nick, in any case, and gets the same conversation.
        server.otherActions = []
        server.send(alice, "CHATHISTORY LATEST BOB * 10")
        server.send(bob, "CHATHISTORY LATEST alice * 10")
        #expect(server.otherActions == [
            .fetchHistory(alice, .latest(channel: key, limit: 10), batchType: "chathistory", target: "BOB"),
            .fetchHistory(bob, .latest(channel: key, limit: 10), batchType: "chathistory", target: "alice"),
        ])
        // Lines keep the recipient they were sent to, whoever asks.
        _ = server.inbox(bob)
        let line = ChatLine(id: "m1", time: server.now, channel: "bob", source: "alice", kind: .privmsg, text: "hello bob")
        server.record(server.state.historyReady(bob, lines: [line], batchType: "chathistory", target: "alice", now: server.now))
        #expect(server.inbox(bob).contains { $0.hasSuffix("PRIVMSG bob :hello bob") })
    }

    @Test func conversationsFollowAccountsNotNicks() {
        #expect(PrivateConversation.participant(account: "Carol", nick: "c", fold: { $0.lowercased() }) == "account:carol")
        #expect(PrivateConversation.participant(account: nil, nick: "Carol", fold: { $0.lowercased() }) == "nick:carol")
        #expect(PrivateConversation.key("nick:b", "account:a") == PrivateConversation.key("account:a", "nick:b"))
        #expect(PrivateConversation.key("account:carol", "account:x") != PrivateConversation.key("nick:carol", "account:x"))
        #expect(PrivateConversation.isConversation(PrivateConversation.key("nick:a", "nick:a")))
        #expect(!PrivateConversation.isConversation("#chan"))
    }

    @Test func targetsNeedTwoTimestampsAndAskTheBackend() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "JOIN #one")
        server.otherActions = []
        let reply = server.send(alice, "CHATHISTORY TARGETS msgid=x timestamp=2262-01-01T00:00:00.000Z 10")
        #expect(reply.contains { $0.contains("FAIL CHATHISTORY INVALID_PARAMS") })
        server.send(alice, "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z 5")
        guard case .fetchTargets(alice, let query)? = server.otherActions.last else {
            Issue.record("no targets query: \(server.otherActions)")
            return
        }
        #expect(query.channels == ["#one"] && query.participant == "nick:alice" && query.limit == 5)
        server.record(server.state.targetsReady(alice, targets: [
            HistoryTarget(name: "#one", latest: Date(timeIntervalSince1970: 1_700_000_000)),
            HistoryTarget(name: "bob", latest: Date(timeIntervalSince1970: 1_700_000_001.5)),
        ]))
        #expect(server.inbox(alice).suffix(2) == [
            ":irc.test CHATHISTORY TARGETS #one 2023-11-14T22:13:20.000Z",
            ":irc.test CHATHISTORY TARGETS bob 2023-11-14T22:13:21.500Z",
        ])
    }

    @Test func theInMemoryBackendKeepsConversationsApartAndListsTargets() async {
        let backend = InMemoryChatBackend()
        func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_700_000_000 + seconds) }
        let ab = PrivateConversation.key("account:a", "nick:b"), ac = PrivateConversation.key("account:a", "nick:c")
        await backend.handle(.message(channel: "#one", nick: "a", kind: .privmsg, text: "in one", id: "1", time: at(1)))
        await backend.handle(.directMessage(
            conversation: ab, sender: "account:a", recipient: "nick:b", nick: "a", target: "b", kind: .privmsg,
            text: "to b", id: "2", time: at(2)))
        await backend.handle(.directMessage(
            conversation: ac, sender: "nick:c", recipient: "account:a", nick: "c", target: "a", kind: .notice,
            text: "from c", id: "3", time: at(3)))
        #expect(await backend.history(.latest(channel: ab, limit: 10)).map(\.text) == ["to b"])
        #expect(await backend.history(.latest(channel: ac, limit: 10)).map(\.channel) == ["a"])
        func targets(_ from: Double, _ to: Double, limit: Int = 10, as participant: String = "account:a") async -> [String] {
            await backend.historyTargets(HistoryTargetsQuery(
                channels: ["#one", "#empty"], participant: participant, from: at(from), to: at(to), limit: limit)).map(\.name)
        }
        #expect(await targets(0, 10) == ["#one", "b", "c"])
        #expect(await targets(10, 0) == ["#one", "b", "c"])  // bounds in either order
        #expect(await targets(0, 10, limit: 2) == ["#one", "b"])
        #expect(await targets(1, 10) == ["b", "c"])  // strictly after the first bound
        #expect(await targets(0, 3) == ["#one", "b"])  // and strictly before the second
        #expect(await targets(0, 10, as: "nick:b") == ["#one", "a"])
    }
}
