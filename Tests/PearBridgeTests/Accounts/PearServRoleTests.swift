import Foundation
import HyperLog
import IRCServer
import Logging
import Testing

@testable import PearBridge

/// PearServ checks the role of the sender's account at every command (issue 20): every admin command refused to a
/// user and to someone not logged in, allowed to an admin; the user commands open to both; roles read afresh.
@Suite struct PearServRoleTests {
    struct Fixture {
        let gateway: TestGateway
        let accounts: AccountLoginsTests.Fixture
        let service: PearServ

        func cleanUp() {
            gateway.cleanUp()
            accounts.cleanUp()
        }
    }

    static func fixture(_ name: String) async throws -> Fixture {
        let gateway = try await TestGateway.make(name)
        let (database, file) = try AccountDatabaseTests.database()
        let logins = AccountLogins(
            database: database, logger: Logger(label: "test"))
        try database.add(AccountName("root"), password: Array("root-pw".utf8), role: .admin, identity: gateway.gateway.identity.keyPair)
        try database.add(AccountName("ursula"), password: Array("ursula-pw".utf8), role: .user)
        let accounts = AccountLoginsTests.Fixture(database: database, logins: logins, identity: gateway.gateway.identity.keyPair, file: file)
        return Fixture(gateway: gateway, accounts: accounts, service: PearServ(gateway: gateway.gateway, connector: { _ in }, logins: logins))
    }

    /// Every admin command, as typed (the role table in docs/user-guide.md).
    static let adminCommands = [
        "connect 127.0.0.1:9", "account list", "account add eve eve-pw", "account remove ursula", "account role ursula admin",
        "account disable ursula", "account enable ursula",
    ]

    @Test func everyAdminCommandIsRefusedToAUserAndToNoLogin() async throws {
        let f = try await Self.fixture("roles-refused")
        defer { f.cleanUp() }
        for command in Self.adminCommands {
            let asUser = await f.service.handle(command, account: "ursula")
            #expect(asUser.count == 1 && asUser[0].contains("needs the admin role"), "\(command): \(asUser)")
            let anonymous = await f.service.handle(command, account: nil)
            #expect(anonymous.count == 1 && anonymous[0].contains("not logged in"), "\(command): \(anonymous)")
        }
        // Nothing changed.
        #expect(try f.accounts.database.list().map { "\($0.name) \($0.role.rawValue) \($0.disabled)" } == ["root admin false", "ursula user false"])
        // The user commands are the user's.
        #expect(await f.service.handle("rooms", account: "ursula") == ["You are in no rooms."])
        #expect(await f.service.handle("peers", account: "ursula") == ["No peers connected."])
        #expect(await f.service.handle("help", account: "ursula") == PearServ.userHelp)
        #expect(await f.service.handle("help", account: "root") == PearServ.help)
    }

    @Test func anAdminManagesAccountsAndARoleChangeCountsAtOnce() async throws {
        let f = try await Self.fixture("roles-admin")
        defer { f.cleanUp() }
        let added = await f.service.handle("account add eve eve-pw", account: "root")
        #expect(added.first?.hasPrefix("Added eve (user)") == true, "\(added)")
        #expect(await f.service.handle("account add eve other", account: "root") == ["Nothing changed: an account called eve exists already."])
        #expect(await f.service.handle("account role ursula admin", account: "root") == ["ursula is now an admin."])
        // Ursula's next command runs with the new role.
        #expect(await f.service.handle("account list", account: "ursula").first == "3 account(s):")
        #expect(await f.service.handle("account disable ursula", account: "root") == ["ursula is disabled."])
        #expect(await f.service.handle("rooms", account: "ursula").first?.contains("not logged in") == true)
        #expect(await f.service.handle("account remove root", account: "root") == ["Nothing changed: root is the last admin: make another admin first."])
        #expect(await f.service.handle("account remove eve", account: "root") == ["Removed eve (their identity's logs stay in the store)."])
        #expect(await f.service.handle("account role root boss", account: "root").first?.hasPrefix("Usage:") == true)
    }

    @Test func passwdChangesOnlyOnesOwnPasswordWithTheOldOne() async throws {
        let f = try await Self.fixture("roles-passwd")
        defer { f.cleanUp() }
        #expect(await f.service.handle("passwd wrong new-pw", account: "ursula") == ["Your current password is not that: nothing changed."])
        #expect(await f.service.handle("passwd ursula-pw new-pw", account: "ursula") == ["Your password is changed: log in with the new one from now on."])
        #expect(try f.accounts.database.verify(AccountName("ursula"), password: Array("new-pw".utf8)) != nil)
        #expect(try f.accounts.database.verify(AccountName("ursula"), password: Array("ursula-pw".utf8)) == nil)
        #expect(try f.accounts.database.verify(AccountName("root"), password: Array("root-pw".utf8)) != nil)
    }
}
