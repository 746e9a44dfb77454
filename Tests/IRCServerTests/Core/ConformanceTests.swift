import Foundation
import IRCServer
import Testing

/// Behaviours irctest checks that are easy to get wrong; each test names the case it mirrors.
@Suite struct ConformanceTests {
    /// buffering.py testNoTags: a line that grows past 512 bytes when relayed is cut, not dropped.
    @Test func relayedLinesAreCutToFit() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        let text = String(repeating: "a", count: 480) + "😃😃😃"
        server.send(alice, "PRIVMSG bob :\(text)")
        let relayed = server.inbox(bob)
        #expect(relayed.count == 1)
        #expect((509...510).contains(relayed[0].utf8.count))
        #expect(relayed[0].hasPrefix(":alice!~alice@127.0.0.1 PRIVMSG bob aaaa"))
        let emojiLine = String(repeating: "b", count: 440) + String(repeating: "😃", count: 10)
        server.send(alice, "PRIVMSG bob :\(emojiLine)")
        let cut = server.inbox(bob)[0]
        #expect(cut.utf8.count <= 510)
        #expect(!cut.contains("\u{FFFD}"), "never cuts inside a character")
    }

    /// message_tags.py testBasic: TAGMSG only reaches clients with message-tags.
    @Test func tagmsgOnlyReachesMessageTagsClients() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["message-tags"])
        let bob = server.register("bob", caps: ["message-tags"])
        let carol = server.register("carol")
        for id in [alice, bob, carol] { server.send(id, "JOIN #c") }
        server.inbox(alice)
        server.inbox(bob)
        server.inbox(carol)
        server.send(alice, "@+typing=active TAGMSG #c")
        #expect(server.inbox(bob).count == 1)
        #expect(server.inbox(carol).isEmpty)
    }

    /// One channel line fanned out to members who negotiated different capabilities: each gets exactly the tags
    /// they asked for, once; `@#c` (STATUSMSG) reaches operators only.
    @Test func aChannelLineCarriesEachMembersOwnTags() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let tagged = server.register("tagged", caps: ["message-tags", "server-time"])
        let timed = server.register("timed", caps: ["server-time"])
        let timedToo = server.register("timedtoo", caps: ["server-time"])
        let plain = server.register("plain")
        for id in [alice, tagged, timed, timedToo, plain] { server.send(id, "JOIN #c") }
        for id in [alice, tagged, timed, timedToo, plain] { server.inbox(id) }
        #expect(server.send(alice, "PRIVMSG #c :hello").isEmpty)
        let taggedLines = server.inbox(tagged)
        #expect(taggedLines.count == 1)
        #expect(taggedLines.first.map { $0.hasPrefix("@msgid=") && $0.contains(";time=") } == true)
        let timedLines = server.inbox(timed)
        #expect(timedLines.count == 1)
        #expect(timedLines.first.map { $0.hasPrefix("@time=") && !$0.contains("msgid") } == true)
        #expect(server.inbox(timedToo) == timedLines)
        #expect(server.inbox(plain) == [":alice!~alice@127.0.0.1 PRIVMSG #c hello"])
        // alice created #c and holds +o; nobody else does.
        server.send(tagged, "PRIVMSG @#c :ops only")
        #expect(server.inbox(alice) == [":tagged!~tagged@127.0.0.1 PRIVMSG @#c :ops only"])
        #expect(server.inbox(timed).isEmpty && server.inbox(plain).isEmpty)
    }

    /// lusers.py: RPL_LOCALUSERS / RPL_GLOBALUSERS with current and peak counts.
    @Test func lusersReportsPeaks() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        server.send(bob, "QUIT")
        let lines = server.send(alice, "LUSERS")
        #expect(lines.with("265") == [":irc.test 265 alice 1 2 :Current local users 1, max 2"])
        #expect(lines.with("266") == [":irc.test 266 alice 1 2 :Current global users 1, max 2"])
    }

    /// connection_registration.py testEmptyRealname.
    @Test func userWithAnEmptyRealNameNeedsMoreParams() {
        var server = ServerHarness()
        let id = server.connect()
        server.send(id, "NICK foo")
        #expect(server.send(id, "USER username * * :") == [":irc.test 461 foo USER :Not enough parameters"])
    }

    /// away_notify.py testAwayNotifyOnJoin.
    @Test func awayUsersJoiningAreAnnounced() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["away-notify"])
        let bob = server.register("bob")
        server.send(alice, "JOIN #c")
        server.send(bob, "AWAY :lunch")
        server.send(bob, "JOIN #c")
        #expect(server.inbox(alice) == [":bob!~bob@127.0.0.1 JOIN #c", ":bob!~bob@127.0.0.1 AWAY lunch"])
    }

    /// chmodes/operator.py testChannelOperatorModeTargetDoesNotExist.
    @Test func opForAnUnknownNickIsNoSuchNick() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "JOIN #c")
        #expect(server.send(alice, "MODE #c +o nobody") == [":irc.test 401 alice nobody :No such nick/channel"])
    }

    /// sasl.py testRegistrationDuringSasl: finishing registration aborts SASL with 906.
    @Test func registrationDuringSaslAbortsIt() {
        var server = ServerHarness()
        let id = server.connect()
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        #expect(server.send(id, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
        server.send(id, "NICK foo")
        server.send(id, "USER foo 0 * :Foo")
        let lines = server.send(id, "CAP END")
        #expect(lines.first == ":irc.test 906 foo :SASL authentication aborted")
        #expect(lines.contains { $0.contains(" 001 foo ") })
    }

    /// who.py testWhoInvisible: an invisible user is found by exact nick, not by mask.
    @Test func invisibleUsersShowForExactNicksOnly() {
        var server = ServerHarness()
        let evan = server.register("evan")
        server.send(evan, "MODE evan +i")
        let shivaram = server.register("shivaram")
        #expect(server.send(shivaram, "WHO eva*").with("352").isEmpty)
        #expect(server.send(shivaram, "WHO evan").with("352").count == 1)
    }

    /// JOIN 0 parts every channel.
    @Test func joinZeroPartsEverything() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "JOIN #a,#b")
        let lines = server.send(alice, "JOIN 0")
        #expect(lines.with("PART").count == 2)
        #expect(server.send(alice, "PRIVMSG #a :x") == [":irc.test 403 alice #a :No such channel"])
    }
}
