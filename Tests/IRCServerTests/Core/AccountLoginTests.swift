import Foundation
import IRCServer
import Testing

/// Logins where accounts matter (issue 20): a login required before registering, PASS account:password, passwords in
/// the clear only over TLS or loopback, operator status from the account, re-authentication, and REGISTER.
@Suite struct AccountLoginTests {
    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    static func gateway(_ configuration: inout IRCServerConfiguration) {
        configuration.passwordsNeedSecureConnection = true
        configuration.accountSwitching = false
    }

    @Test func aConnectionThatMustLogInIsNotWelcomedWithout() {
        var server = ServerHarness(configure: Self.gateway)
        let id = server.connect(loginRequired: true)
        server.send(id, "NICK alice")
        let replies = server.send(id, "USER alice 0 * :Alice")
        #expect(replies.with("001").isEmpty)
        #expect(replies.with("464").count == 1 && replies.with("464")[0].contains("SASL"))
        #expect(replies.with("ERROR").count == 1)
        #expect(server.closed.contains(id))
        // Without the requirement, the same client registers as before.
        let free = server.connect()
        server.send(free, "NICK bob")
        #expect(server.send(free, "USER bob 0 * :Bob").with("001").count == 1)
    }

    @Test func passLogsInBeforeTheWelcome() {
        var server = ServerHarness(configure: Self.gateway)
        let id = server.connect(loginRequired: true)
        server.send(id, "PASS alice:s3cret:with:colons")
        server.send(id, "NICK alice")
        // Registration waits for the verdict; lines sent meanwhile wait too.
        #expect(server.send(id, "USER alice 0 * :Alice").with("001").isEmpty)
        #expect(server.send(id, "PING x").isEmpty)
        #expect(server.takeBackendCalls() == [.authenticate(id, .plain(user: "alice", password: "s3cret:with:colons"))])
        server.record(server.state.authenticationFinished(id, login: AccountLogin(account: "alice"), now: server.now))
        let replies = server.inbox(id)
        #expect(replies.with("900").count == 1)
        #expect(replies.with("001").count == 1)
        #expect(replies.with("PONG").count == 1)
        #expect(replies.firstIndex { $0.contains(" 900 ") }! < replies.firstIndex { $0.contains(" 001 ") }!)
        #expect(!server.closed.contains(id))
    }

    @Test func passWithoutAColonIsTheUserNamesPassword() {
        var server = ServerHarness(configure: Self.gateway)
        let id = server.connect(loginRequired: true)
        server.send(id, "PASS hunter2")
        server.send(id, "NICK al")
        server.send(id, "USER alice 0 * :Alice")
        #expect(server.takeBackendCalls() == [.authenticate(id, .plain(user: "alice", password: "hunter2"))])
    }

    @Test func aWrongPassEndsTheConnectionAndCountsAgainstTheAddress() {
        var server = ServerHarness(configure: Self.gateway)
        for attempt in 0..<4 {
            let id = server.connect(loginRequired: true)
            server.send(id, "PASS alice:wrong")
            server.send(id, "NICK alice")
            let answer = server.send(id, "USER alice 0 * :Alice")
            let calls = server.takeBackendCalls()
            if attempt < 3 {
                #expect(calls == [.authenticate(id, .plain(user: "alice", password: "wrong"))])
                server.record(server.state.authenticationFinished(id, login: nil, now: server.now))
                #expect(server.inbox(id).with("464") == [":irc.test 464 alice :Password incorrect"])
            } else {
                // The fourth try within the back-off is refused without asking the backend.
                #expect(calls.isEmpty)
                #expect(answer.with("464").first?.contains("try again in") == true)
            }
            #expect(server.closed.contains(id))
        }
    }

    @Test func passwordsInTheClearOnlyOverTLSOrLoopback() {
        var server = ServerHarness(configure: Self.gateway)
        let remote = server.connect(host: "192.0.2.7", loginRequired: true)
        server.send(remote, "CAP LS 302")
        server.send(remote, "CAP REQ sasl")
        let plain = server.send(remote, "AUTHENTICATE PLAIN")
        #expect(plain.with("904").first?.contains("TLS") == true)
        server.send(remote, "PASS alice:pw")
        server.send(remote, "CAP END")
        server.send(remote, "NICK alice")
        let refused = server.send(remote, "USER alice 0 * :Alice")
        #expect(refused.with("464").first?.contains("TLS") == true)
        #expect(server.takeBackendCalls().isEmpty)
        // Over TLS from the same address, or in the clear from loopback, PLAIN goes ahead.
        let secure = server.connect(host: "192.0.2.7", secure: true, loginRequired: true)
        server.send(secure, "CAP REQ sasl")
        #expect(server.send(secure, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
        let local = server.connect(loginRequired: true)
        server.send(local, "CAP REQ sasl")
        #expect(server.send(local, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
    }

    /// Logs `id` in with SASL PLAIN as `account`, the backend granting `login`.
    static func logIn(_ server: inout ServerHarness, _ id: ClientID, as account: String, granted login: AccountLogin?) -> [String] {
        server.send(id, "AUTHENTICATE PLAIN")
        server.send(id, "AUTHENTICATE \(base64("\0\(account)\0pw"))")
        server.otherActions.removeAll()
        server.record(server.state.authenticationFinished(id, login: login, now: server.now))
        return server.inbox(id)
    }

    @Test func anAdminAccountMakesAnOperator() {
        var server = ServerHarness(configure: Self.gateway)
        let id = server.connect(loginRequired: true)
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        _ = Self.logIn(&server, id, as: "root", granted: AccountLogin(account: "root", isOperator: true))
        server.send(id, "CAP END")
        server.send(id, "NICK root")
        let welcome = server.send(id, "USER root 0 * :Root")
        #expect(welcome.with("001").count == 1)
        #expect(welcome.with("381").count == 1)
        #expect(welcome.with("MODE").first?.hasSuffix("+ow") == true)
        // Operator commands work (WALLOPS reaches the operator itself, who has +w).
        #expect(server.send(id, "WALLOPS :hello").with("WALLOPS").count == 1)
    }

    @Test func reauthenticationStaysWithTheAccountWhereAccountsArePeople() {
        var server = ServerHarness(configure: Self.gateway)
        let id = server.connect(loginRequired: true)
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        #expect(Self.logIn(&server, id, as: "alice", granted: AccountLogin(account: "alice")).with("903").count == 1)
        server.send(id, "CAP END")
        server.send(id, "NICK alice")
        server.send(id, "USER alice 0 * :Alice")
        let other = Self.logIn(&server, id, as: "bob", granted: AccountLogin(account: "bob"))
        #expect(other.with("904").first?.contains("logged in as alice") == true)
        #expect(other.with("900").isEmpty)
        #expect(Self.logIn(&server, id, as: "alice", granted: AccountLogin(account: "ALICE")).with("903").count == 1)
        // A failed re-authentication keeps the login there was.
        #expect(Self.logIn(&server, id, as: "alice", granted: nil).with("904").count == 1)
        #expect(server.send(id, "WHOIS alice").with("330").first?.contains(" ALICE :is logged in as") == true)
    }

    @Test func reauthenticationAsAnotherAccountWhereAllowedTellsTheNeighbours() {
        var server = ServerHarness()
        let watcher = server.registerLoggedIn("watcher", account: "watcher", caps: ["account-notify"])
        let id = server.registerLoggedIn("alice", account: "foo")
        server.send(watcher, "JOIN #c")
        server.send(id, "JOIN #c")
        server.inbox(watcher)
        #expect(Self.logIn(&server, id, as: "jilles", granted: AccountLogin(account: "jilles")).with("903").count == 1)
        #expect(server.inbox(watcher).with("ACCOUNT").first?.hasSuffix("ACCOUNT jilles") == true)
    }

    // MARK: - REGISTER

    static func registering(_ policy: AccountRegistrationPolicy?) -> ServerHarness {
        ServerHarness { $0.accountRegistration = policy }
    }

    @Test func registerIsOfferedOnlyWhenConfigured() {
        var closed = Self.registering(nil)
        let a = closed.connect()
        #expect(!closed.send(a, "CAP LS 302").joined().contains("account-registration"))
        #expect(closed.send(a, "REGISTER alice * pw").with("421").count == 1)
        var open = Self.registering(AccountRegistrationPolicy())
        let b = open.connect()
        #expect(open.send(b, "CAP LS 302").joined().contains("draft/account-registration=before-connect,custom-account-name"))
        var nickOnly = Self.registering(AccountRegistrationPolicy(beforeConnect: false, customAccountName: false))
        let c = nickOnly.connect()
        let ls = nickOnly.send(c, "CAP LS 302").joined()
        #expect(ls.contains("draft/account-registration") && !ls.contains("draft/account-registration="))
    }

    @Test func registerBeforeConnectMakesTheAccountAndLogsIn() {
        var server = Self.registering(AccountRegistrationPolicy())
        let id = server.connect()
        server.send(id, "CAP LS 302")
        #expect(server.send(id, "REGISTER * * pw") == [":irc.test FAIL REGISTER BAD_ACCOUNT_NAME * :Choose a NICK first, or name the account"])
        server.send(id, "NICK bar")
        #expect(server.send(id, "REGISTER * * shivarampassphrase").isEmpty)
        #expect(server.takeBackendCalls() == [.register(id, account: "bar", email: nil, password: "shivarampassphrase")])
        server.record(server.state.registrationFinished(id, account: "bar", outcome: .registered(AccountLogin(account: "bar"))))
        let replies = server.inbox(id)
        #expect(replies.first == ":irc.test REGISTER SUCCESS bar :Account created")
        #expect(replies.with("900").count == 1)
        #expect(server.send(id, "REGISTER other * pw") == [":irc.test FAIL REGISTER ALREADY_AUTHENTICATED other :You are logged in already"])
    }

    @Test func registerFailuresSayWhy() {
        var server = Self.registering(AccountRegistrationPolicy(beforeConnect: false, customAccountName: false))
        let id = server.connect()
        server.send(id, "NICK bar")
        #expect(server.send(id, "REGISTER bar * pw").first?.contains("FAIL REGISTER COMPLETE_CONNECTION_REQUIRED bar") == true)
        server.send(id, "USER bar 0 * :Bar")
        #expect(server.send(id, "REGISTER foo * pw").first?.contains("FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK foo") == true)
        #expect(server.send(id, "REGISTER bad!name * pw").first?.contains("FAIL REGISTER BAD_ACCOUNT_NAME") == true)
        #expect(server.send(id, "REGISTER bar *").with("461").count == 1)
        server.send(id, "REGISTER bar * pw")
        server.otherActions.removeAll()
        server.record(server.state.registrationFinished(id, account: "bar", outcome: .accountExists))
        #expect(server.inbox(id) == [":irc.test FAIL REGISTER ACCOUNT_EXISTS bar :That account exists already"])
        server.send(id, "REGISTER bar * x")
        server.record(server.state.registrationFinished(id, account: "bar", outcome: .unacceptablePassword("too short")))
        #expect(server.inbox(id) == [":irc.test FAIL REGISTER UNACCEPTABLE_PASSWORD bar :too short"])
    }

    @Test func anEmailIsRequiredWhereThePolicySays() {
        var server = Self.registering(AccountRegistrationPolicy(requiresEmail: true))
        let id = server.connect()
        #expect(server.send(id, "CAP LS 302").joined().contains("email-required"))
        server.send(id, "NICK bar")
        for email in ["*", "nobody", "a@", "@b.c", "a@b", "a@.b"] {
            #expect(server.send(id, "REGISTER * \(email) pw").first?.contains("FAIL REGISTER INVALID_EMAIL bar") == true, "\(email)")
        }
        #expect(server.send(id, "REGISTER * bar@example.org pw").isEmpty)
        #expect(server.takeBackendCalls() == [.register(id, account: "bar", email: "bar@example.org", password: "pw")])
    }

    @Test func aRegistrationFloodWaits() {
        var server = Self.registering(AccountRegistrationPolicy())
        var refused = 0
        for n in 0..<5 {
            let id = server.connect(host: "198.51.100.9")
            server.send(id, "NICK n\(n)")
            let reply = server.send(id, "REGISTER * * pw")
            if reply.first?.contains("TEMPORARILY_UNAVAILABLE") == true { refused += 1 }
        }
        #expect(refused == 2)
        #expect(server.takeBackendCalls().count == 3)
    }
}
