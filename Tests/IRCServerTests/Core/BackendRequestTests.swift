import Foundation
import IRCServer
import Testing

@Suite struct BackendRequestTests {
    /// A finished registration tells the backend the client's nick (the gateway shows its user under the nick of the
    /// client most recently registered or renamed), once, after 001.
    @Test func registrationTellsTheBackendTheNick() {
        var server = ServerHarness()
        _ = server.register("annjmtr")
        let registered = server.backendRequests.filter { if case .registered = $0 { true } else { false } }
        #expect(registered == [.registered(nick: "annjmtr")])
    }

    /// Every request names the account of the client who acted (nil when not logged in), so a backend serving several
    /// people acts for the right one (issue 20); stored and carried lines name it too.
    @Test func requestsNameTheAccountOfWhoActed() {
        var server = ServerHarness { configuration in
            configuration.channelLinesAwaitStorage = true
            configuration.carriesRemotePrivateMessages = true
        }
        let alice = server.registerLoggedIn("alice", account: "Alice")
        let guest = server.register("guest")
        server.backendRequests = []
        server.backendAccounts = []
        server.send(alice, "JOIN #room")
        server.send(guest, "JOIN #room")
        server.send(alice, "TOPIC #room :plans")
        server.send(alice, "NICK alicia")
        server.send(guest, "NICK visitor")
        #expect(server.backendAccounts == ["Alice", nil, "Alice", "Alice", nil])
        _ = server.takeBackendCalls()
        server.send(alice, "PRIVMSG #room :hi")
        server.send(alice, "PRIVMSG faraway :hello")
        let accounts = server.takeBackendCalls().compactMap { action -> String? in
            switch action {
            case .storeLine(_, _, _, _, let account), .carryPrivate(_, _, _, _, let account): account
            default: nil
            }
        }
        #expect(accounts == ["Alice", "Alice"])
    }
}
