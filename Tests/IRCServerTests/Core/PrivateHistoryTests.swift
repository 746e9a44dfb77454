import Foundation
import IRCServer
import Testing

/// Private messages are filed per conversation (by account, else nick) and come back through CHATHISTORY; TARGETS
/// lists channels and conversations by their latest message.
@Suite struct PrivateHistoryTests {
    @Test func privateMessagesAreFiledPerConversationAndQueriedByNick() throws {
        var server = ServerHarness()
        let alice = server.registerLoggedIn("alice", account: "Al", caps: ["batch", "draft/chathistory"])
        let bob = server.register("bob", caps: ["batch", "draft/chathistory"])
        server.send(alice, "PRIVMSG Bob :hello bob")
        let key = PrivateConversation.key("account:al", "nick:bob")
        guard case .directMessage(let conversation, let sender, let recipient, let nick, let target, .privmsg, "hello bob", let id, _)?
            = server.backendRequests.last
        else {
            Issue.record("no private message filed: \(server.backendRequests)")
            return
        }
        #expect(conversation == key && sender == "account:al" && recipient == "nick:bob")
        #expect(nick == "alice" && target == "bob" && !id.isEmpty)
        // TAGMSG carries no text; between two nicks nothing is kept (nobody could read it back).
        let carl = server.register("carl")
        let filed = server.backendRequests.count
        server.send(alice, "@+typing=active TAGMSG bob")
        server.send(bob, "PRIVMSG carl :just nicks")
        #expect(server.backendRequests.count == filed)
        _ = carl

        // The account holder asks by nick, in any case; the nick-only side gets an empty batch, whoever holds the
        // nick now (a nick can change hands, an account cannot).
        server.otherActions = []
        server.send(alice, "CHATHISTORY LATEST BOB * 10")
        #expect(server.otherActions == [
            .fetchHistory(alice, .latest(channel: key, limit: 10), batchType: "chathistory", target: "BOB", onJoin: false)
        ])
        _ = server.inbox(bob)
        server.otherActions = []
        let empty = server.send(bob, "CHATHISTORY LATEST alice * 10")
        #expect(server.otherActions.isEmpty)
        #expect(empty.count == 2 && empty[0].contains("BATCH +") && empty[1].contains("BATCH -"), "\(empty)")

        // Lines keep the recipient they were sent to, whoever asks.
        _ = server.inbox(alice)
        let line = ChatLine(id: "m1", time: server.now, channel: "bob", source: "alice", kind: .privmsg, text: "hello bob")
        server.record(server.state.historyReady(alice, lines: [line], batchType: "chathistory", target: "bob", now: server.now))
        #expect(server.inbox(alice).contains { $0.hasSuffix("PRIVMSG bob :hello bob") })
    }

    /// A logged-in partner who has gone offline is still found by the nick they had.
    @Test func anOfflinePartnerIsFoundByTheirLastNick() {
        var server = ServerHarness()
        let alice = server.registerLoggedIn("alice", account: "al")
        let carol = server.registerLoggedIn("carol", account: "cz")
        server.send(carol, "PRIVMSG alice :see you")
        server.record(server.state.disconnected(carol, reason: "gone", now: server.now))
        server.otherActions = []
        server.send(alice, "CHATHISTORY LATEST Carol * 5")
        #expect(server.otherActions == [
            .fetchHistory(
                alice, .latest(channel: PrivateConversation.key("account:al", "account:cz"), limit: 5),
                batchType: "chathistory", target: "Carol", onJoin: false)
        ])
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
        // Not logged in: channels only (private history belongs to accounts).
        #expect(query.channels == ["#one"] && query.participant == "" && query.limit == 5)
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
        // From the later bound backwards: the most recent ones, still earliest first.
        #expect(await targets(10, 0, limit: 2) == ["b", "c"])
    }
}
