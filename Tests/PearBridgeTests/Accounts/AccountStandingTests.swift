import Foundation
import IRCServer
import Synchronization
import Testing

@testable import PearBridge

/// Account changes reaching clients already logged in (issue 20): which changes of role, disabled flag or existence
/// change what a login grants, read from the database as `pearircd account …` leaves it.
@Suite struct AccountStandingTests {
    @Test func onlyChangesOfWhatALoginGrantsAreTold() {
        let root = AccountStanding(name: "Root", role: .admin, disabled: false)
        let bob = AccountStanding(name: "bob", role: .user, disabled: false)
        let old = ["root": root, "bob": bob]
        #expect(AccountStanding.changes(from: old, to: old).isEmpty)
        var demoted = old
        demoted["root"]?.role = .user
        #expect(AccountStanding.changes(from: old, to: demoted) == [.accountChanged(account: "Root", login: AccountLogin(account: "Root"))])
        var disabled = old
        disabled["bob"]?.disabled = true
        #expect(AccountStanding.changes(from: old, to: disabled) == [.accountChanged(account: "bob", login: nil)])
        #expect(AccountStanding.changes(from: old, to: ["root": root]) == [.accountChanged(account: "bob", login: nil)])
        // A new account is told (a client may have logged in to it before it was first read here); a new disabled one
        // grants nothing, as before.
        var carol = AccountStanding(name: "Carol", role: .user, disabled: false)
        #expect(AccountStanding.changes(from: old, to: old.merging(["carol": carol]) { a, _ in a })
            == [.accountChanged(account: "Carol", login: AccountLogin(account: "Carol"))])
        carol.disabled = true
        #expect(AccountStanding.changes(from: old, to: old.merging(["carol": carol]) { a, _ in a }).isEmpty)
        // A disabled account enabled again grants a login to the next connection; nobody is connected with it now.
        #expect(AccountStanding.changes(from: disabled, to: old) == [.accountChanged(account: "bob", login: AccountLogin(account: "bob"))])
    }

    @Test func standingsFollowTheDatabase() throws {
        let (database, file) = try AccountDatabaseTests.database()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        _ = try database.add(AccountName("root"), password: Array("pw".utf8), role: .admin)
        _ = try database.add(AccountName("bob"), password: Array("pw".utf8), role: .admin)
        let standings = AccountStandings(database: database)
        #expect(standings.changes().isEmpty)
        try database.setRole(AccountName("bob"), to: .user)
        #expect(standings.changes() == [.accountChanged(account: "bob", login: AccountLogin(account: "bob"))])
        #expect(standings.changes().isEmpty)
        try database.remove(AccountName("bob"))
        try database.setDisabled(AccountName("root"), false)
        #expect(standings.changes() == [.accountChanged(account: "bob", login: nil)])
    }
}

extension AccountStandingTests {
    /// PearServ's account commands reach the IRC core at once, through the backend's events.
    @Test func pearServAccountCommandsAreToldToTheIRCCoreAtOnce() async throws {
        let f = try await PearServRoleTests.fixture("standing-pearserv")
        defer { f.cleanUp() }
        let backend = GatewayBackend(gateway: f.gateway.gateway, connector: nil, logins: f.accounts.logins)
        let collected = Mutex<[BackendEvent]>([])
        let collector = Task {
            for await event in backend.events {
                if case .accountChanged = event { collected.withLock { $0.append(event) } }
            }
        }
        defer { collector.cancel() }
        _ = await backend.service(PearServ.name, from: "root", account: "root", text: "account role ursula admin")
        _ = await backend.service(PearServ.name, from: "root", account: "root", text: "account disable ursula")
        try await waitUntil("both changes told") { collected.withLock { $0.count >= 2 } }
        let told = collected.withLock { $0 }
        #expect(told == [
            .accountChanged(account: "ursula", login: AccountLogin(account: "ursula", isOperator: true)),
            .accountChanged(account: "ursula", login: nil),
        ])
    }
}
