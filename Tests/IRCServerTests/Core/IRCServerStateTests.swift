import Foundation
import IRCServer
import Testing

@Suite struct RegistrationTests {
    @Test func plainRegistrationWelcomesWithISupportAndMOTD() {
        var server = ServerHarness()
        let id = server.connect()
        #expect(server.send(id, "NICK alice").isEmpty)
        let welcome = server.send(id, "USER alice 0 * :Alice Liddell")
        #expect(welcome.first == ":irc.test 001 alice :Welcome to the PearIRC Network, alice!~alice@127.0.0.1")
        #expect(!welcome.with("005").isEmpty)
        #expect(welcome.with("005").joined().contains("CASEMAPPING=rfc1459"))
        #expect(welcome.with("005").joined().contains("CHANTYPES=#&"))
        #expect(welcome.with("005").allSatisfy { $0.hasSuffix(":are supported by this server") })
        #expect(!welcome.with("251").isEmpty)
        #expect(welcome.last?.contains(" 376 ") == true)
    }

    @Test func capNegotiationHoldsRegistrationUntilEnd() {
        var server = ServerHarness()
        let id = server.connect()
        let ls = server.send(id, "CAP LS 302")
        #expect(ls.count == 1)
        #expect(ls[0].hasPrefix(":irc.test CAP * LS :"))
        #expect(ls[0].contains("sasl=PLAIN") && ls[0].contains("server-time") && ls[0].contains("echo-message"))
        #expect(server.send(id, "CAP REQ :server-time echo-message") == [":irc.test CAP * ACK :server-time echo-message"])
        #expect(server.send(id, "CAP REQ :bogus-cap") == [":irc.test CAP * NAK bogus-cap"])
        server.send(id, "NICK bob")
        #expect(server.send(id, "USER bob 0 * :Bob").isEmpty, "registration waits for CAP END")
        let done = server.send(id, "CAP END")
        #expect(done.first?.contains(" 001 bob ") == true)
        #expect(server.send(id, "CAP LIST") == [":irc.test CAP bob LIST :cap-notify echo-message server-time"])
    }

    @Test func nickErrors() {
        var server = ServerHarness()
        _ = server.register("alice")
        let id = server.connect()
        #expect(server.send(id, "NICK") == [":irc.test 431 * :No nickname given"])
        #expect(server.send(id, "NICK 9lives") == [":irc.test 432 * 9lives :Erroneous nickname"])
        #expect(server.send(id, "NICK ALICE") == [":irc.test 433 * ALICE :Nickname is already in use"])
        #expect(server.send(id, "NICK {alice}").isEmpty)
    }

    @Test func commandsBeforeRegistrationAndUnknownCommands() {
        var server = ServerHarness()
        let id = server.connect()
        #expect(server.send(id, "JOIN #x") == [":irc.test 451 * :You have not registered"])
        let alice = server.register("alice")
        #expect(server.send(alice, "FROBNICATE") == [":irc.test 421 alice FROBNICATE :Unknown command"])
        #expect(server.send(alice, "JOIN") == [":irc.test 461 alice JOIN :Not enough parameters"])
        #expect(server.send(alice, "PING :token") == [":irc.test PONG irc.test token"])
        #expect(server.send(alice, "USER a b c d") == [":irc.test 462 alice :You may not reregister"])
    }

    @Test func timeoutsCloseIdleConnections() {
        var server = ServerHarness()
        let lurker = server.connect()
        let alice = server.register("alice")
        server.now += 61
        server.record(server.state.tick(now: server.now))
        #expect(server.closed.contains(lurker))
        #expect(server.inbox(lurker).last?.hasPrefix("ERROR :Closing Link") == true)
        server.now += 120
        server.record(server.state.tick(now: server.now))
        #expect(server.inbox(alice) == ["PING irc.test"])
        server.now += 61
        server.record(server.state.tick(now: server.now))
        #expect(server.closed.contains(alice))
    }

    @Test func saslPlainAsksTheBackend() {
        var server = ServerHarness()
        let id = server.connect()
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        #expect(server.send(id, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
        let payload = Data("\0alice\0secret".utf8).base64EncodedString()
        server.send(id, "AUTHENTICATE \(payload)")
        #expect(server.otherActions.contains(.authenticate(id, .plain(user: "alice", password: "secret"))))
        server.record(server.state.authenticationFinished(id, account: "alice"))
        let replies = server.inbox(id)
        #expect(replies.contains { $0.contains(" 900 ") } && replies.contains { $0.contains(" 903 ") })
        // SASL 3.2: a logged-in client may authenticate again.
        #expect(server.send(id, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
    }
}

@Suite struct AccountTagTests {
    /// account-tag applies to every message from a logged-in user, not only PRIVMSG.
    @Test func anInviteCarriesTheInvitersAccount() {
        var server = ServerHarness()
        let alice = server.registerLoggedIn("alice", account: "al", user: "a")
        let bob = server.register("bob", caps: ["account-tag"])
        let carol = server.register("carol")
        server.send(alice, "JOIN #c")
        _ = server.inbox(bob)
        server.send(alice, "INVITE bob #c")
        server.send(alice, "INVITE carol #c")
        #expect(server.inbox(bob).last == "@account=al :alice!~a@127.0.0.1 INVITE bob #c")
        #expect(server.inbox(carol).last == ":alice!~a@127.0.0.1 INVITE carol #c")
        // A nick change carries the account too (the tag comes from who acts, not from who holds a nick later).
        server.send(bob, "JOIN #c")
        _ = server.inbox(bob)
        server.send(alice, "NICK alicia")
        #expect(server.inbox(bob).last == "@account=al :alice!~a@127.0.0.1 NICK alicia")
    }
}

@Suite struct CapNotifyTests {
    @Test func withdrawnAndReofferedCapabilitiesAreAnnouncedToCapNotifyClients() {
        var server = ServerHarness()
        let modern = server.connect(), old = server.connect(), plain = server.connect()
        server.send(modern, "CAP LS 302")
        server.send(modern, "CAP REQ :sasl echo-message")
        server.send(old, "CAP LS")
        server.send(old, "CAP REQ :cap-notify echo-message")
        server.send(plain, "CAP LS")
        server.send(plain, "CAP REQ echo-message")
        for id in [modern, old, plain] { _ = server.inbox(id) }

        server.record(server.state.changeCapabilities(offer: [], withdraw: ["sasl", "echo-message", "no-such-cap", "cap-notify"]))
        #expect(server.inbox(modern) == [":irc.test CAP * DEL :echo-message sasl"])
        #expect(server.inbox(old) == [":irc.test CAP * DEL :echo-message sasl"])
        #expect(server.inbox(plain).isEmpty)
        // Gone for everyone: not listed, not requestable, no longer enabled.
        #expect(server.send(plain, "CAP LIST") == [":irc.test CAP * LIST :"])
        #expect(server.send(modern, "CAP REQ sasl") == [":irc.test CAP * NAK sasl"])
        #expect(!server.send(modern, "CAP LS 302").joined().contains("sasl"))
        // Withdrawing again changes nothing and says nothing.
        server.record(server.state.changeCapabilities(offer: [], withdraw: ["sasl"]))
        #expect(server.inbox(modern).isEmpty)

        server.record(server.state.changeCapabilities(offer: ["sasl"], withdraw: []))
        #expect(server.inbox(modern) == [":irc.test CAP * NEW sasl=PLAIN,EXTERNAL"])
        #expect(server.inbox(old) == [":irc.test CAP * NEW sasl"])
        // A 302 client cannot opt out: cap-notify is implied and stays on.
        server.send(modern, "CAP REQ :-cap-notify")
        _ = server.inbox(modern)
        server.record(server.state.changeCapabilities(offer: [], withdraw: ["setname"]))
        #expect(server.inbox(modern) == [":irc.test CAP * DEL setname"])
        server.record(server.state.changeCapabilities(offer: ["setname"], withdraw: []))
        _ = server.inbox(modern)
        #expect(server.send(modern, "CAP REQ sasl") == [":irc.test CAP * ACK sasl"])
    }
}

@Suite struct SASLExternalTests {
    @Test func externalNeedsACertificateAndCarriesItsFingerprint() {
        var server = ServerHarness()
        let id = server.connect()
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        #expect(server.send(id, "AUTHENTICATE EXTERNAL") == [
            ":irc.test 904 * :SASL authentication failed: no TLS client certificate was presented"
        ])
        server.record(server.state.certificatePresented(id, fingerprint: "ab12"))
        #expect(server.send(id, "AUTHENTICATE EXTERNAL") == ["AUTHENTICATE +"])
        server.send(id, "AUTHENTICATE +")
        #expect(server.otherActions.contains(.authenticate(id, .external(certificateFingerprint: "ab12", authorizationIdentity: nil))))
        server.record(server.state.authenticationFinished(id, account: nil))
        #expect(server.inbox(id).contains { $0.contains(" 904 ") })
        // Naming the account asked for.
        #expect(server.send(id, "AUTHENTICATE EXTERNAL") == ["AUTHENTICATE +"])
        server.send(id, "AUTHENTICATE \(Data("carol".utf8).base64EncodedString())")
        #expect(server.otherActions.contains(.authenticate(id, .external(certificateFingerprint: "ab12", authorizationIdentity: "carol"))))
    }

    @Test func unknownMechanismsAndBadPayloadsFail() {
        var server = ServerHarness()
        let id = server.connect()
        server.send(id, "CAP REQ sasl")
        #expect(server.send(id, "AUTHENTICATE SCRAM-SHA-256") == [
            ":irc.test 908 * PLAIN,EXTERNAL :are available SASL mechanisms", ":irc.test 904 * :SASL authentication failed",
        ])
        #expect(server.send(id, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
        #expect(server.send(id, "AUTHENTICATE !!!notbase64") == [
            ":irc.test 904 * :SASL authentication failed: the payload is not valid base64"
        ])
    }

    /// Accounts in the file count from the next attempt on, without a restart; malformed lines are skipped.
    @Test func theAccountsFileIsReadAtEveryAttempt() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-accounts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let backend = InMemoryChatBackend(accountsFile: file.path)
        #expect(await backend.authenticate(.plain(user: "dana", password: "pw")) == nil)  // no file yet
        try "garbage line\n:nameless\ndana:pw\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(await backend.authenticate(.plain(user: "dana", password: "pw"))?.account == "dana")
        #expect(await backend.authenticate(.plain(user: "dana", password: "PW")) == nil)
        #expect(await backend.authenticate(.plain(user: "", password: "nameless")) == nil)
    }

    @Test func theInMemoryBackendMatchesFingerprintsAndAccounts() async {
        let fingerprint = String(repeating: "ab", count: 32)
        let backend = InMemoryChatBackend(
            accounts: ["alice": "secret"], certificates: [fingerprint.uppercased(): "carol"])
        #expect(await backend.authenticate(.external(certificateFingerprint: fingerprint, authorizationIdentity: nil))?.account == "carol")
        #expect(await backend.authenticate(.external(certificateFingerprint: fingerprint, authorizationIdentity: "carol"))?.account == "carol")
        #expect(await backend.authenticate(.external(certificateFingerprint: fingerprint, authorizationIdentity: "alice")) == nil)
        #expect(await backend.authenticate(.external(certificateFingerprint: String(repeating: "cd", count: 32), authorizationIdentity: nil)) == nil)
        #expect(await backend.authenticate(.plain(user: "alice", password: "secret"))?.account == "alice")
        #expect(await backend.authenticate(.plain(user: "alice", password: "secreT")) == nil)
        #expect(await backend.authenticate(.plain(user: "bob", password: "secret")) == nil)
    }
}

@Suite struct ChannelTests {
    @Test func joinMessageAndEcho() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["server-time", "echo-message", "message-tags"])
        let bob = server.register("bob")
        let join = server.send(alice, "JOIN #Rust")
        #expect(join.first == ":alice!~alice@127.0.0.1 JOIN #Rust")
        #expect(join.contains(":irc.test 353 alice = #Rust @alice"))
        #expect(join.contains(":irc.test 366 alice #Rust :End of /NAMES list"))
        server.send(bob, "JOIN #rust")
        #expect(server.inbox(alice) == [":bob!~bob@127.0.0.1 JOIN #Rust"])

        let echoed = server.send(alice, "PRIVMSG #rust :hello there")
        #expect(echoed.count == 1)
        #expect(echoed[0].hasPrefix("@msgid=m-1;time=2025-11-24T16:00:00.000Z :alice!~alice@127.0.0.1 PRIVMSG #Rust :hello there"))
        #expect(server.inbox(bob) == [":alice!~alice@127.0.0.1 PRIVMSG #Rust :hello there"], "no tags without caps")
        #expect(server.backendRequests.contains {
            if case .message(let channel, let nick, .privmsg, "hello there", "m-1", _) = $0 { channel == "#Rust" && nick == "alice" } else { false }
        })
        #expect(server.send(bob, "PRIVMSG #nowhere :x") == [":irc.test 403 bob #nowhere :No such channel"])
        #expect(server.send(bob, "PRIVMSG carol :x") == [":irc.test 401 bob carol :No such nick/channel"])
        #expect(server.send(bob, "PRIVMSG #rust") == [":irc.test 412 bob :No text to send"])
    }

    @Test func partQuitNickAndTopicReachTheChannel() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        server.send(alice, "JOIN #c")
        server.send(bob, "JOIN #c")
        _ = server.inbox(alice)
        server.send(bob, "NICK robert")
        #expect(server.inbox(alice) == [":bob!~bob@127.0.0.1 NICK robert"])
        #expect(server.send(bob, "TOPIC #c :new topic") == [":irc.test 482 robert #c :You're not channel operator"])
        server.send(alice, "TOPIC #c :new topic")
        #expect(server.inbox(bob) == [":alice!~alice@127.0.0.1 TOPIC #c :new topic"])
        let topic = server.send(bob, "TOPIC #c")
        #expect(topic.first == ":irc.test 332 robert #c :new topic")
        server.send(bob, "PART #c :bye")
        #expect(server.inbox(alice) == [":robert!~bob@127.0.0.1 PART #c bye"])
        server.send(bob, "JOIN #c")
        _ = server.inbox(alice)
        server.send(bob, "QUIT :gone")
        #expect(server.inbox(alice) == [":robert!~bob@127.0.0.1 QUIT :Quit: gone"])
        #expect(server.closed.contains(bob))
    }

    @Test func modesKeysKicksAndBans() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        server.send(alice, "JOIN #ops")
        #expect(server.send(alice, "MODE #ops +k sesame") == [":alice!~alice@127.0.0.1 MODE #ops +k sesame"])
        #expect(server.send(bob, "JOIN #ops") == [":irc.test 475 bob #ops :Cannot join channel (+k)"])
        #expect(server.send(bob, "JOIN #ops sesame").first == ":bob!~bob@127.0.0.1 JOIN #ops")
        _ = server.inbox(alice)
        #expect(server.send(bob, "MODE #ops +m") == [":irc.test 482 bob #ops :You're not channel operator"])
        server.send(alice, "MODE #ops +v bob")
        #expect(server.inbox(bob) == [":alice!~alice@127.0.0.1 MODE #ops +v bob"])
        server.send(alice, "KICK #ops bob :behave")
        #expect(server.inbox(bob) == [":alice!~alice@127.0.0.1 KICK #ops bob behave"])
        server.send(alice, "MODE #ops +b bob")
        #expect(server.send(bob, "JOIN #ops sesame") == [":irc.test 474 bob #ops :Cannot join channel (+b)"])
        let modes = server.send(alice, "MODE #ops")
        #expect(modes.first == ":irc.test 324 alice #ops +knt sesame")
    }

    @Test func whoAndWhois() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        server.send(alice, "JOIN #w")
        server.send(bob, "JOIN #w")
        let who = server.send(alice, "WHO #w")
        #expect(who.contains(":irc.test 352 alice #w ~bob 127.0.0.1 irc.test bob H :0 bob real"))
        #expect(who.last == ":irc.test 315 alice #w :End of WHO list")
        let whox = server.send(alice, "WHO #w %tnf,42")
        #expect(whox.contains(":irc.test 354 alice 42 bob H"))
        let whois = server.send(alice, "WHOIS bob")
        #expect(whois.first == ":irc.test 311 alice bob ~bob 127.0.0.1 * :bob real")
        #expect(whois.contains(":irc.test 319 alice bob #w"))
        #expect(whois.last == ":irc.test 318 alice bob :End of /WHOIS list")
        #expect(server.send(alice, "WHOIS nobody").first == ":irc.test 401 alice nobody :No such nick/channel")
    }
}

@Suite struct RemoteUserTests {
    @Test func backendEventsBecomeIRCLines() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["server-time", "message-tags"])
        server.send(alice, "JOIN #p2p")
        let remote = RemoteUser(id: "key1", nick: "carol", user: "pear", host: "5db4ysm3.pear", realName: "Carol",
            whoisInfo: ["public key 5db4ysm3..."])
        server.record(server.state.backendEvent(.remoteJoined(channel: "#p2p", user: remote), now: server.now))
        #expect(server.inbox(alice) == [":carol!pear@5db4ysm3.pear JOIN #p2p"])
        let names = server.send(alice, "NAMES #p2p")
        #expect(names.first == ":irc.test 353 alice = #p2p :@alice carol")
        server.record(server.state.backendEvent(
            .remoteMessage(channel: "#p2p", userID: "key1", kind: .privmsg, text: "hi from afar", id: "abc",
                time: Date(timeIntervalSince1970: 1_764_000_001)), now: server.now))
        #expect(server.inbox(alice) == ["@msgid=abc;time=2025-11-24T16:00:01.000Z :carol!pear@5db4ysm3.pear PRIVMSG #p2p :hi from afar"])
        server.record(server.state.backendEvent(.remoteNick(userID: "key1", newNick: "alice"), now: server.now))
        #expect(server.inbox(alice) == [":carol!pear@5db4ysm3.pear NICK alice_"], "a remote user never takes a local nick")
        #expect(server.send(alice, "WHOIS alice_").contains(":irc.test 320 alice alice_ :public key 5db4ysm3..."))
        server.record(server.state.backendEvent(.remoteQuit(userID: "key1", reason: "Connection gone"), now: server.now))
        #expect(server.inbox(alice) == [":alice_!pear@5db4ysm3.pear QUIT :Connection gone"])
    }
}

extension RemoteUserTests {
    /// A remote line hidden from an account (its person ignores the author) reaches every other member, not that
    /// account's clients.
    @Test func aRemoteLineHiddenFromAnAccountSkipsItsClients() {
        var server = ServerHarness()
        let alice = server.registerLoggedIn("alice", account: "alice")
        let ursula = server.registerLoggedIn("ursula", account: "Ursula")
        server.send(alice, "JOIN #p2p")
        server.send(ursula, "JOIN #p2p")
        let remote = RemoteUser(id: "key1", nick: "carol", user: "pear", host: "5db4ysm3.pear", realName: "Carol")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#p2p", user: remote), now: server.now))
        _ = server.inbox(alice)
        _ = server.inbox(ursula)
        server.record(server.state.backendEvent(
            .remoteMessage(channel: "#p2p", userID: "key1", kind: .privmsg, text: "hello", id: "m1", time: server.now,
                hiddenFrom: ["ursula"]), now: server.now))
        #expect(server.inbox(alice) == [":carol!pear@5db4ysm3.pear PRIVMSG #p2p hello"])
        #expect(server.inbox(ursula).isEmpty)
    }

    /// WHOIS of a remote user claims nothing this server cannot know (no 671), and lists only rooms the asker shares.
    @Test func whoisOfARemoteUserShowsOnlyWhatTheAskerMaySee() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        server.send(alice, "JOIN #shared")
        server.send(bob, "JOIN #shared")
        server.send(bob, "JOIN #bobs")
        let remote = RemoteUser(id: "key1", nick: "carol", user: "pear", host: "5db4ysm3.pear", realName: "carol")
        for channel in ["#shared", "#bobs"] {
            server.record(server.state.backendEvent(.remoteJoined(channel: channel, user: remote), now: server.now))
        }
        let whois = server.send(alice, "WHOIS carol")
        #expect(whois.contains(":irc.test 319 alice carol #shared"))
        #expect(!whois.contains { $0.contains(" 671 ") })
        #expect(server.send(bob, "WHOIS carol").contains(":irc.test 319 bob carol :#bobs #shared"))
    }

    /// The backend says when a channel began (a room older than this server's memory): RPL_CREATIONTIME shows it.
    @Test func aChannelsCreationTimeComesFromTheBackend() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "JOIN #old")
        server.record(server.state.backendEvent(.channelCreated(channel: "#OLD", time: Date(timeIntervalSince1970: 1_000)), now: server.now))
        #expect(server.send(alice, "MODE #old").contains { $0.hasPrefix(":irc.test 329 alice #old 1000") })
    }

    /// Nothing carries a private message to a remote user yet: the sender is told, and nothing is echoed as if sent.
    @Test func aPrivateMessageToARemoteUserIsRefusedNotEchoed() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["echo-message"])
        server.send(alice, "JOIN #p2p")
        let remote = RemoteUser(id: "key1", nick: "carol", user: "pear", host: "5db4ysm3.pear", realName: "Carol")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#p2p", user: remote), now: server.now))
        _ = server.inbox(alice)
        #expect(server.send(alice, "PRIVMSG carol :are you there?")
            == [":irc.test 401 alice carol :Private messages to remote users are not carried by this server"])
        #expect(server.send(alice, "NOTICE carol :psst").isEmpty)
        #expect(server.send(alice, "@+typing=active TAGMSG carol").isEmpty)
        #expect(!server.otherActions.contains { if case .backend(.directMessage, _) = $0 { true } else { false } })
    }
}

@Suite struct ChatHistoryTests {
    @Test func historyIsFetchedAndBatched() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["batch", "server-time", "message-tags", "draft/chathistory"])
        server.send(alice, "JOIN #h")
        server.send(alice, "CHATHISTORY LATEST #h * 10")
        guard case .fetchHistory(let id, let query, _, let target, false)? = server.otherActions.last else {
            Issue.record("expected a history fetch")
            return
        }
        #expect(id == alice && target == "#h")
        #expect(query == .latest(channel: "#h", limit: 10))
        let lines = [ChatLine(id: "x1", time: Date(timeIntervalSince1970: 1_764_000_000), channel: "#h", source: "bob", kind: .privmsg, text: "old")]
        server.record(server.state.historyReady(alice, lines: lines, batchType: "chathistory", target: "#h", now: server.now))
        let out = server.inbox(alice)
        #expect(out.count == 3)
        #expect(out[0].contains("BATCH +") && out[0].hasSuffix("chathistory #h"))
        #expect(out[1].contains("msgid=x1") && out[1].hasSuffix("PRIVMSG #h old") && out[1].contains("batch="))
        #expect(out[2].contains("BATCH -"))
        #expect(server.send(alice, "CHATHISTORY LATEST #nope * 10").first?.hasPrefix(":irc.test FAIL CHATHISTORY INVALID_TARGET") == true)
    }

    @Test func historyWindows() {
        let lines = (0..<10).map {
            ChatLine(id: "id\($0)", time: Date(timeIntervalSince1970: Double($0)), channel: "#c", source: "a", kind: .privmsg, text: "\($0)")
        }
        #expect(HistoryWindow.select(.latest(channel: "#c", limit: 3), from: lines).map(\.text) == ["7", "8", "9"])
        #expect(HistoryWindow.select(.before(channel: "#c", reference: .messageID("id5"), limit: 2), from: lines).map(\.text) == ["3", "4"])
        #expect(HistoryWindow.select(.after(channel: "#c", reference: .messageID("id5"), limit: 2), from: lines).map(\.text) == ["6", "7"])
        #expect(HistoryWindow.select(.between(channel: "#c", from: .messageID("id2"), to: .messageID("id6"), limit: 10), from: lines).map(\.text) == ["3", "4", "5"])
        #expect(HistoryWindow.select(.around(channel: "#c", reference: .messageID("id5"), limit: 4), from: lines).map(\.text) == ["3", "4", "5", "6"])
        #expect(HistoryWindow.select(.before(channel: "#c", reference: .messageID("missing"), limit: 2), from: lines).isEmpty)
    }
}
