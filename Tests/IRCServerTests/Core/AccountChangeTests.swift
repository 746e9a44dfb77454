import Foundation
import IRCServer
import Testing

/// What an account's login grants changing while its clients are connected (issue 20, `BackendEvent.accountChanged`):
/// a demoted admin stops being an operator at once; a disabled or removed account's connections are closed, and
/// others see its person quit once.
@Suite struct AccountChangeTests {
    static func admin(_ server: inout ServerHarness, account: String = "root") -> ClientID {
        let id = server.connect(loginRequired: true)
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        _ = AccountLoginTests.logIn(&server, id, as: account, granted: AccountLogin(account: account, isOperator: true))
        server.send(id, "CAP END")
        server.send(id, "NICK \(account)")
        server.send(id, "USER \(account) 0 * :\(account)")
        server.inbox(id)
        return id
    }

    @Test func aDemotedAdminStopsBeingAnOperatorAndAPromotedUserBecomesOne() {
        var server = ServerHarness(configure: AccountLoginTests.gateway)
        let root = Self.admin(&server)
        #expect(server.send(root, "WALLOPS :still?").with("WALLOPS").count == 1)
        server.record(server.state.backendEvent(.accountChanged(account: "ROOT", login: AccountLogin(account: "root")), now: server.now))
        #expect(server.inbox(root) == [":root!~root@127.0.0.1 MODE root -ow"])
        #expect(server.send(root, "WALLOPS :still?").with("481").count == 1)
        #expect(server.send(root, "KILL root :x").with("481").count == 1)
        server.record(server.state.backendEvent(.accountChanged(account: "root", login: AccountLogin(account: "root", isOperator: true)), now: server.now))
        let promoted = server.inbox(root)
        #expect(promoted.with("381").count == 1)
        #expect(promoted.with("MODE") == [":root!~root@127.0.0.1 MODE root +ow"])
    }

    @Test func operatorStatusFromOperStaysWhenTheAccountChanges() {
        var server = ServerHarness { configuration in
            AccountLoginTests.gateway(&configuration)
            configuration.operators = ["oper": "hash"]
            configuration.operatorPasswordVerifier = { _, _ in true }
        }
        let id = server.registerLoggedIn("bob", account: "bob")
        server.send(id, "OPER oper pw")
        server.answerOperatorChecks(for: id) { _, _ in true }
        server.record(server.state.backendEvent(.accountChanged(account: "bob", login: AccountLogin(account: "bob")), now: server.now))
        #expect(server.inbox(id).isEmpty)
        #expect(server.send(id, "WALLOPS :yes").with("WALLOPS").count == 1)
    }

    @Test func aDisabledAccountsConnectionsAreClosedAndOthersSeeOneQuit() {
        var server = ServerHarness { configuration in
            AccountLoginTests.gateway(&configuration)
            configuration.sharedAccountSessions = true
        }
        let laptop = server.registerSession("alice", account: "alice")
        let phone = server.registerSession("alice", account: "alice")
        let bob = server.registerSession("bob", account: "bob")
        server.send(laptop, "JOIN #room")
        server.send(bob, "JOIN #room")
        server.inbox(laptop)
        server.inbox(phone)
        server.backendRequests = []
        server.record(server.state.backendEvent(.accountChanged(account: "alice", login: nil), now: server.now))
        for id in [laptop, phone] {
            let told = server.inbox(id)
            #expect(told.with("NOTICE").first?.contains("disabled or removed") == true)
            #expect(told.with("ERROR").count == 1)
            #expect(server.closed.contains(id))
        }
        #expect(server.inbox(bob) == [":alice!~alice@127.0.0.1 QUIT :Account disabled"])
        #expect(server.backendRequests == [.quit(nick: "alice", reason: "Account disabled")])
        #expect(!server.closed.contains(bob))
        // An account nobody is connected with changes nothing.
        server.record(server.state.backendEvent(.accountChanged(account: "carol", login: nil), now: server.now))
        #expect(server.inbox(bob).isEmpty)
    }
}
