import Foundation
import IRCServer
import Testing

/// Several connections of one account as one person (issue 20, `sharedAccountSessions`): one nick, the same channels,
/// each other's lines, and one presence for everyone else.
@Suite struct SessionTests {
    static func sharing(_ configuration: inout IRCServerConfiguration) {
        configuration.accountSwitching = false
        configuration.sharedAccountSessions = true
    }

    /// A server whose connections share accounts and replay 20 lines to clients without CHATHISTORY.
    static func sharingWithReplay() -> ServerHarness {
        ServerHarness { configuration in
            sharing(&configuration)
            configuration.historyOnJoin = 20
        }
    }

    /// The names of RPL_NAMREPLY lines, sorted.
    static func names(_ lines: [String]) -> [String] {
        lines.with("353").flatMap { line in
            line.split(separator: ":").last.map { $0.split(separator: " ").map(String.init) } ?? []
        }.sorted()
    }

    /// Bob, a person of another account, in #room with alice's first connection; alice's second connection logs in.
    struct Scene {
        var server = ServerHarness(configure: SessionTests.sharing)
        var laptop: ClientID
        var bob: ClientID

        init(laptopCaps: [String] = []) {
            laptop = server.registerSession("alice", account: "alice", caps: laptopCaps)
            bob = server.registerSession("bob", account: "bob")
            server.send(laptop, "JOIN #room")
            server.send(laptop, "TOPIC #room :plans")
            server.send(bob, "JOIN #room")
            server.inbox(laptop)
            server.backendRequests = []
        }
    }

    @Test func aSecondConnectionIsWelcomedAsThePersonInTheirChannels() {
        var scene = Scene()
        // The phone asks for a nick of its own; it is the person's nick it gets.
        let phone = scene.server.registerSession("alice_phone", account: "alice", keepInbox: true)
        let welcome = scene.server.inbox(phone)
        #expect(welcome.with("001").first?.hasPrefix(":irc.test 001 alice ") == true)
        #expect(welcome.with("JOIN") == [":alice!~alice@127.0.0.1 JOIN #room"])
        #expect(welcome.with("332").first?.hasSuffix("#room plans") == true)
        #expect(welcome.with("353").first?.hasSuffix(":@alice bob") == true)
        // Nobody else saw anything: the person was here already.
        #expect(scene.server.inbox(scene.bob).isEmpty)
        #expect(scene.server.inbox(scene.laptop).isEmpty)
        #expect(scene.server.backendRequests.isEmpty)
        // One alice in the lists.
        #expect(scene.server.send(scene.bob, "NAMES #room").with("353").first?.hasSuffix(":@alice bob") == true)
        #expect(scene.server.send(scene.bob, "WHO #room").with("352").count == 2)
        #expect(scene.server.send(scene.bob, "LIST #room").with("322").first?.contains("#room 2 ") == true)
        #expect(scene.server.send(scene.bob, "LUSERS").with("251").first?.contains("There are 2 users") == true)
    }

    @Test func aLineFromOneConnectionShowsOnTheOthersAndOnceForEveryoneElse() {
        var scene = Scene(laptopCaps: ["echo-message"])
        let phone = scene.server.registerSession("alice", account: "alice")
        let sent = scene.server.send(phone, "PRIVMSG #room :from the phone")
        // The phone has no echo-message: no echo; the laptop sees its person's line; bob sees it once.
        #expect(sent.isEmpty)
        #expect(scene.server.inbox(scene.laptop) == [":alice!~alice@127.0.0.1 PRIVMSG #room :from the phone"])
        #expect(scene.server.inbox(scene.bob) == [":alice!~alice@127.0.0.1 PRIVMSG #room :from the phone"])
        #expect(scene.server.backendRequests.count == 1)
        // From the laptop (echo-message): its echo, and the phone sees it.
        #expect(scene.server.send(scene.laptop, "PRIVMSG #room :from the laptop").with("PRIVMSG").count == 1)
        #expect(scene.server.inbox(phone).with("PRIVMSG") == [":alice!~alice@127.0.0.1 PRIVMSG #room :from the laptop"])
        #expect(scene.server.inbox(scene.bob).with("PRIVMSG").count == 1)
    }

    @Test func privateMessagesReachEveryConnectionAndTheSendersOthersSeeThem() {
        var scene = Scene()
        let phone = scene.server.registerSession("alice", account: "alice")
        scene.server.send(scene.bob, "PRIVMSG alice :hi both")
        #expect(scene.server.inbox(scene.laptop) == [":bob!~bob@127.0.0.1 PRIVMSG alice :hi both"])
        #expect(scene.server.inbox(phone) == [":bob!~bob@127.0.0.1 PRIVMSG alice :hi both"])
        // An answer from the phone: bob gets it once, the laptop sees what its person wrote.
        scene.server.send(phone, "PRIVMSG bob hello")
        #expect(scene.server.inbox(scene.bob) == [":alice!~alice@127.0.0.1 PRIVMSG bob hello"])
        #expect(scene.server.inbox(scene.laptop) == [":alice!~alice@127.0.0.1 PRIVMSG bob hello"])
    }

    @Test func joiningOrPartingFromOneConnectionDoesItForAll() {
        var scene = Scene()
        let phone = scene.server.registerSession("alice", account: "alice")
        scene.server.send(scene.bob, "JOIN #other")
        scene.server.inbox(scene.bob)
        scene.server.backendRequests = []
        let joined = scene.server.send(phone, "JOIN #other")
        #expect(joined.with("JOIN").count == 1 && joined.with("353").count == 1)
        let laptopSaw = scene.server.inbox(scene.laptop)
        #expect(laptopSaw.with("JOIN") == [":alice!~alice@127.0.0.1 JOIN #other"])
        #expect(Self.names(laptopSaw) == ["@bob", "alice"])
        #expect(scene.server.inbox(scene.bob).with("JOIN").count == 1)
        #expect(scene.server.backendRequests == [.joined(channel: "#other", nick: "alice")])
        scene.server.backendRequests = []

        scene.server.send(scene.laptop, "PART #other bye")
        #expect(scene.server.inbox(phone).with("PART") == [":alice!~alice@127.0.0.1 PART #other bye"])
        #expect(scene.server.inbox(scene.bob).with("PART").count == 1)
        // The person leaves the room (told once, for both connections), though bob, another person, stays in it.
        #expect(scene.server.backendRequests == [.parted(channel: "#other", nick: "alice", reason: "bye")])
        #expect(scene.server.send(phone, "PRIVMSG #other :still here?").with("404").count == 1)
    }

    @Test func aNickChangeIsThePersonsAndSeenOnce() {
        var scene = Scene()
        let phone = scene.server.registerSession("alice", account: "alice")
        #expect(scene.server.send(phone, "NICK alicia") == [":alice!~alice@127.0.0.1 NICK alicia"])
        #expect(scene.server.inbox(scene.laptop) == [":alice!~alice@127.0.0.1 NICK alicia"])
        #expect(scene.server.inbox(scene.bob) == [":alice!~alice@127.0.0.1 NICK alicia"])
        #expect(scene.server.backendRequests == [.nickChanged(old: "alice", new: "alicia")])
        // Both connections are alicia now; the old nick is free.
        #expect(scene.server.send(scene.laptop, "PRIVMSG #room me").isEmpty)
        #expect(scene.server.inbox(scene.bob) == [":alicia!~alice@127.0.0.1 PRIVMSG #room me"])
        #expect(scene.server.send(scene.bob, "WHOIS alice").with("401").count == 1)
        #expect(scene.server.send(scene.laptop, "NICK alicia").isEmpty)
    }

    @Test func oneConnectionGoingLeavesThePersonAndTheLastOneQuits() {
        var scene = Scene()
        let phone = scene.server.registerSession("alice", account: "alice")
        // The connection standing for alice goes first: the phone takes its place, nobody sees a QUIT.
        scene.server.record(scene.server.state.disconnected(scene.laptop, reason: "gone", now: scene.server.now))
        #expect(scene.server.inbox(scene.bob).isEmpty)
        #expect(scene.server.inbox(phone).isEmpty)
        #expect(scene.server.backendRequests.isEmpty)
        #expect(Self.names(scene.server.send(scene.bob, "NAMES #room")) == ["@alice", "bob"])
        #expect(scene.server.send(scene.bob, "WHOIS alice").with("311").count == 1)
        scene.server.send(scene.bob, "PRIVMSG alice :still there?")
        #expect(scene.server.inbox(phone) == [":bob!~bob@127.0.0.1 PRIVMSG alice :still there?"])
        // The phone holds the person's channel modes: it can do what an operator does.
        #expect(scene.server.send(phone, "TOPIC #room :new plans").with("TOPIC").count == 1)
        scene.server.inbox(scene.bob)
        scene.server.backendRequests = []
        // The last connection goes: now alice quits.
        scene.server.record(scene.server.state.disconnected(phone, reason: "gone", now: scene.server.now))
        #expect(scene.server.inbox(scene.bob) == [":alice!~alice@127.0.0.1 QUIT gone"])
        #expect(scene.server.backendRequests == [.quit(nick: "alice", reason: "gone")])
        #expect(scene.server.send(scene.bob, "WHOIS alice").with("401").count == 1)
    }

    @Test func anAttachedConnectionGoingChangesNothingForOthers() {
        var scene = Scene()
        let phone = scene.server.registerSession("alice", account: "alice")
        scene.server.send(phone, "QUIT :phone off")
        #expect(scene.server.closed.contains(phone))
        #expect(scene.server.inbox(scene.bob).isEmpty)
        #expect(scene.server.inbox(scene.laptop).isEmpty)
        scene.server.send(scene.bob, "PRIVMSG #room :hi")
        #expect(scene.server.inbox(scene.laptop).with("PRIVMSG").count == 1)
        // A third connection later attaches to the laptop again.
        let tablet = scene.server.registerSession("alice", account: "alice", keepInbox: true)
        #expect(scene.server.inbox(tablet).with("JOIN").count == 1)
    }

    @Test func anotherAccountsNickIsRefusedWhenRegistrationEnds() {
        var scene = Scene()
        let mallory = scene.server.connect(loginRequired: true)
        scene.server.send(mallory, "CAP LS 302")
        scene.server.send(mallory, "CAP REQ :sasl")
        // Not logged in yet: the nick may still turn out to be theirs.
        #expect(scene.server.send(mallory, "NICK alice").with("433").isEmpty)
        scene.server.send(mallory, "USER m 0 * :m")
        scene.server.send(mallory, "AUTHENTICATE PLAIN")
        scene.server.send(mallory, "AUTHENTICATE \(Data("\0mallory\0pw".utf8).base64EncodedString())")
        scene.server.record(scene.server.state.authenticationFinished(mallory, account: "mallory"))
        let ended = scene.server.send(mallory, "CAP END")
        #expect(ended.with("433").count == 1)
        #expect(ended.with("001").isEmpty)
        // Logged in to another account, the clash is at once; a free nick completes registration.
        #expect(scene.server.send(mallory, "NICK bob").with("433").count == 1)
        #expect(scene.server.send(mallory, "NICK mallory").with("001").count == 1)
        #expect(scene.server.send(scene.bob, "WHOIS alice").contains { $0.contains(" 330 ") && $0.contains("alice alice") })
    }

    @Test func killEndsEveryConnectionOfThePerson() {
        var server = ServerHarness { configuration in
            SessionTests.sharing(&configuration)
            configuration.operators = ["root": "hash"]
            configuration.operatorPasswordVerifier = { _, _ in true }
        }
        let laptop = server.registerSession("alice", account: "alice")
        let phone = server.registerSession("alice", account: "alice")
        let oper = server.registerSession("root", account: "root")
        server.send(oper, "OPER root pw")
        server.answerOperatorChecks(for: oper) { _, _ in true }
        server.send(oper, "KILL alice :spam")
        #expect(server.closed.contains(laptop) && server.closed.contains(phone))
        #expect(server.send(oper, "WHOIS alice").with("401").count == 1)
    }

    @Test func capabilitiesStayEachConnectionsOwn() {
        var scene = Scene(laptopCaps: ["extended-join"])
        let phone = scene.server.registerSession("alice", account: "alice")
        scene.server.send(phone, "JOIN #more")
        #expect(scene.server.inbox(scene.laptop).with("JOIN") == [":alice!~alice@127.0.0.1 JOIN #more alice alice"])
        // Away is the person's: set on the phone, bob's WHOIS and a private message say so.
        scene.server.send(phone, "AWAY :lunch")
        #expect(scene.server.send(scene.bob, "PRIVMSG alice :there?").with("301").count == 1)
        #expect(scene.server.send(scene.laptop, "AWAY").with("305").count == 1)
        #expect(scene.server.send(scene.bob, "PRIVMSG alice :now?").with("301").isEmpty)
    }

    @Test func anAttachingClientThatCannotAskForHistoryGetsTheLinesSinceAConnectionOfItsAccountLeft() {
        var server = Self.sharingWithReplay()
        let laptop = server.registerSession("alice", account: "alice")
        server.send(laptop, "JOIN #room")
        let brief = server.registerSession("alice", account: "alice")
        _ = server.takeBackendCalls()
        let left = server.now
        server.record(server.state.disconnected(brief, reason: "gone", now: left))
        server.advance(3600)
        let phone = server.registerSession("alice", account: "alice")
        #expect(server.takeBackendCalls().filter(\.isHistoryFetch) == [
            .fetchHistory(phone, .between(channel: "#room", from: .timestamp(.distantFuture), to: .timestamp(left), limit: 20),
                batchType: "chathistory", target: "#room", onJoin: true),
        ])
        // A JOIN is the newest lines, as always: for the joining connection and its person's others.
        server.record(server.state.historyReady(phone, lines: [], batchType: "chathistory", target: "#room", onJoin: true, now: server.now))
        server.send(phone, "JOIN #new")
        #expect(server.takeBackendCalls().filter(\.isHistoryFetch) == [laptop, phone].map { id in
            .fetchHistory(id, .latest(channel: "#new", limit: 20), batchType: "chathistory", target: "#new", onJoin: true)
        })
    }

    /// Each client of an account (told apart by its USER name) is given what it missed since *it* left, not since
    /// the account's latest departure; a client never seen before gets the lines since the account's.
    @Test func eachDeviceIsGivenWhatItMissedSinceItLeft() {
        var server = Self.sharingWithReplay()
        let laptop = server.registerSession("alice", account: "alice", device: "laptop")
        server.send(laptop, "JOIN #room")
        let phone = server.registerSession("alice", account: "alice", device: "phone")
        let tablet = server.registerSession("alice", account: "alice", device: "tablet")
        _ = server.takeBackendCalls()
        let phoneLeft = server.now
        server.record(server.state.disconnected(phone, reason: "gone", now: phoneLeft))
        server.advance(600)
        let tabletLeft = server.now
        server.record(server.state.disconnected(tablet, reason: "gone", now: tabletLeft))
        server.advance(600)
        func since(_ id: ClientID) -> [IRCServerAction] { server.takeBackendCalls().filter(\.isHistoryFetch) }
        let phoneAgain = server.registerSession("alice", account: "alice", device: "phone")
        #expect(since(phoneAgain) == [
            .fetchHistory(phoneAgain, .between(channel: "#room", from: .timestamp(.distantFuture), to: .timestamp(phoneLeft), limit: 20),
                batchType: "chathistory", target: "#room", onJoin: true),
        ])
        let watch = server.registerSession("alice", account: "alice", device: "watch")
        #expect(since(watch) == [
            .fetchHistory(watch, .between(channel: "#room", from: .timestamp(.distantFuture), to: .timestamp(tabletLeft), limit: 20),
                batchType: "chathistory", target: "#room", onJoin: true),
        ])
    }

    @Test func theReplayOfAnAttachByPassIsWaitedForBeforeTheClientsNextLines() {
        var server = Self.sharingWithReplay()
        let laptop = server.registerSession("alice", account: "alice")
        server.send(laptop, "JOIN #room")
        _ = server.takeBackendCalls()
        let later = server.connect(loginRequired: true)
        server.send(later, "PASS alice:pw")
        server.send(later, "NICK later")
        server.send(later, "USER later 0 * :later")
        _ = server.takeBackendCalls()
        server.record(server.state.authenticationFinished(later, account: "alice", now: server.now))
        #expect(server.takeBackendCalls().filter(\.isHistoryFetch).count == 1)
        server.inbox(later)
        // Its next line waits for the replay, and comes after it.
        #expect(server.send(later, "PING after-replay").isEmpty)
        let line = ChatLine(id: "x1", time: server.now, channel: "#room", source: "bob!~bob@h", kind: .privmsg, text: "missed")
        server.record(server.state.historyReady(later, lines: [line], batchType: "chathistory", target: "#room", onJoin: true, now: server.now))
        let answer = server.inbox(later)
        let replayed = answer.firstIndex { $0.hasSuffix("PRIVMSG #room missed") }
        let pong = answer.firstIndex { $0.contains("PONG") }
        #expect(replayed != nil && pong != nil && replayed! < pong!)
    }

    @Test func joiningFromOneConnectionWaitsForTheReplayOfTheOthers() {
        var server = Self.sharingWithReplay()
        let laptop = server.registerSession("alice", account: "alice")
        let phone = server.registerSession("alice", account: "alice")
        server.send(phone, "JOIN #room")
        _ = server.takeBackendCalls()
        // The laptop, made a member, waits for its own replay before its next line runs.
        #expect(server.send(laptop, "PING x").isEmpty)
        server.record(server.state.historyReady(laptop, lines: [], batchType: "chathistory", target: "#room", onJoin: true, now: server.now))
        #expect(server.inbox(laptop).contains { $0.contains("PONG") })
    }

    @Test func aNewConnectionsLoginDecidesOperatorStatusForThePerson() {
        var server = ServerHarness(configure: SessionTests.sharing)
        let laptop = AccountChangeTests.admin(&server, account: "root")
        // Demoted since the laptop logged in: the phone's login grants no operator status, and the laptop loses it.
        let phone = server.connect(loginRequired: true)
        server.send(phone, "CAP LS 302")
        server.send(phone, "CAP REQ sasl")
        _ = AccountLoginTests.logIn(&server, phone, as: "root", granted: AccountLogin(account: "root"))
        server.send(phone, "NICK root")
        server.send(phone, "USER root 0 * :root")
        let welcome = server.send(phone, "CAP END")
        #expect(welcome.with("001").count == 1 && welcome.with("381").isEmpty)
        #expect(server.inbox(laptop).with("MODE") == [":root!~root@127.0.0.1 MODE root -ow"])
        #expect(server.send(laptop, "WALLOPS :x").with("481").count == 1)
        #expect(server.send(phone, "WALLOPS :x").with("481").count == 1)
    }

    @Test func aLoginAfterRegistrationMakesThePersonOthersAttachTo() {
        var server = ServerHarness(configure: SessionTests.sharing)
        let laptop = server.register("alice")
        server.send(laptop, "JOIN #room")
        server.send(laptop, "CAP REQ sasl")
        _ = AccountLoginTests.logIn(&server, laptop, as: "alice", granted: AccountLogin(account: "alice"))
        let phone = server.registerSession("alice", account: "alice", keepInbox: true)
        let welcome = server.inbox(phone)
        #expect(welcome.with("001").first?.hasPrefix(":irc.test 001 alice ") == true)
        #expect(welcome.with("JOIN").count == 1)
    }

    @Test func personLevelChangesAreToldToEveryConnection() {
        var scene = Scene()
        let phone = scene.server.registerSession("alice", account: "alice")
        scene.server.send(phone, "MODE alice +w")
        #expect(scene.server.inbox(scene.laptop) == [":alice!~alice@127.0.0.1 MODE alice +w"])
        scene.server.send(phone, "AWAY :out")
        #expect(scene.server.inbox(scene.laptop).with("306").count == 1)
        #expect(scene.server.send(scene.laptop, "MODE alice").with("221").first?.contains("w") == true)
        #expect(scene.server.send(scene.bob, "LUSERS").with("265").first?.contains(" 2 2 ") == true)
    }

    @Test func aPrivateMessageCarriedAfterItsSenderLeftShowsOnTheOtherConnections() {
        var server = ServerHarness { configuration in
            SessionTests.sharing(&configuration)
            configuration.carriesRemotePrivateMessages = true
        }
        let laptop = server.registerSession("alice", account: "alice")
        let phone = server.registerSession("alice", account: "alice")
        server.send(phone, "PRIVMSG faraway :hello there")
        guard case .carryPrivate(_, let token, _, _, _) = server.takeBackendCalls().first(where: {
            if case .carryPrivate = $0 { true } else { false }
        }) else {
            Issue.record("no private message to carry")
            return
        }
        server.record(server.state.disconnected(phone, reason: "gone", now: server.now))
        server.record(server.state.privateMessageCarried(token, .sent, now: server.now))
        #expect(server.inbox(laptop).contains { $0.hasSuffix("PRIVMSG faraway :hello there") })
    }

    @Test func withoutSharingAnAccountsConnectionsAreSeparate() {
        var server = ServerHarness { configuration in
            configuration.accountSwitching = false
            configuration.historyOnJoin = 20
        }
        let laptop = server.registerSession("alice", account: "alice")
        let phone = server.connect(loginRequired: true)
        server.send(phone, "CAP LS 302")
        #expect(server.send(phone, "NICK alice").with("433").count == 1)
        server.send(laptop, "JOIN #room")
        server.record(server.state.historyReady(laptop, lines: [], batchType: "chathistory", target: "#room", onJoin: true, now: server.now))
        #expect(server.inbox(phone).isEmpty)
        // Two logged-in connections of the account are two users; a departure changes no replay.
        let other = server.registerSession("alice2", account: "alice", keepInbox: true)
        #expect(server.inbox(other).with("001").first?.hasPrefix(":irc.test 001 alice2 ") == true)
        server.record(server.state.disconnected(other, reason: "gone", now: server.now))
        _ = server.takeBackendCalls()
        server.send(laptop, "JOIN #next")
        #expect(server.takeBackendCalls().filter(\.isHistoryFetch) == [
            .fetchHistory(laptop, .latest(channel: "#next", limit: 20), batchType: "chathistory", target: "#next", onJoin: true),
        ])
    }
}

extension IRCServerAction {
    var isHistoryFetch: Bool {
        if case .fetchHistory = self { return true }
        return false
    }
}

extension ServerHarness {
    /// A connection that must log in, logs in to `account` with SASL PLAIN (answering for the backend) and registers
    /// asking for `nick`. `keepInbox`: what it received stays to be read.
    /// `device`: the USER name it registers with (what tells an account's clients apart; the nick when nil).
    mutating func registerSession(
        _ nick: String, account: String, device: String? = nil, caps: [String] = [], keepInbox: Bool = false
    ) -> ClientID {
        let id = connect(loginRequired: true)
        send(id, "CAP LS 302")
        send(id, "CAP REQ :" + (["sasl"] + caps).joined(separator: " "))
        send(id, "AUTHENTICATE PLAIN")
        send(id, "AUTHENTICATE \(Data("\0\(account)\0pw".utf8).base64EncodedString())")
        record(state.authenticationFinished(id, account: account))
        send(id, "NICK \(nick)")
        send(id, "USER \(device ?? nick) 0 * :\(nick)")
        received[id] = []
        record(state.received(try! IRCMessageParser.parse("CAP END"), from: id, now: now))
        if !keepInbox { received[id] = [] }
        return id
    }
}
