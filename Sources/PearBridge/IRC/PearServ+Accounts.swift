import Foundation
import HyperLog

/// PearServ's account commands: `passwd` for everyone, `account …` for admins (the same operations as
/// `pearircd account …`, on the same database). Passwords are hashed through the gateway's hashing gate, off the IRC
/// loop; they are never logged or echoed.
extension PearServ {
    func changePassword(_ words: [String], account: String?) async -> [String] {
        guard let logins else { return ["This gateway has no accounts: there is no password to change (pearircd account add makes the first)."] }
        guard words.count == 3 else { return ["Usage: passwd OLD NEW"] }
        guard let account, let name = try? AccountName(account) else { return ["You are not logged in to an account."] }
        let database = logins.database
        do {
            let verified = try await logins.hashing.run { try database.verify(name, password: Array(words[1].utf8)) }
            guard verified != nil else { return ["Your current password is not that: nothing changed."] }
            try await logins.hashing.run { try database.setPassword(name, to: Array(words[2].utf8)) }
            return ["Your password is changed: log in with the new one from now on."]
        } catch {
            return ["Not changed: \(error)."]
        }
    }

    func manageAccounts(_ words: [String]) async -> [String] {
        guard let logins else { return ["This gateway runs without an accounts database."] }
        let database = logins.database
        let usage = [
            "Usage: account list | add NAME PASSWORD [admin] | remove NAME | role NAME admin|user | disable NAME | enable NAME"
                + " | registration [open|closed]"
        ]
        guard let subcommand = words.first?.lowercased() else { return usage }
        func named(_ index: Int) throws -> AccountName {
            guard index < words.count else { throw UsageError() }
            return try AccountName(words[index])
        }
        do {
            switch subcommand {
            case "list":
                let accounts = try database.list()
                guard !accounts.isEmpty else { return ["No accounts: the gateway serves one user on loopback, without login."] }
                return ["\(accounts.count) account(s):"] + accounts.map(Self.describe)
            case "add":
                guard words.count == 3 || (words.count == 4 && words[3].lowercased() == "admin") else { return usage }
                let name = try named(1)
                let first = try database.isEmpty
                // The first account keeps the gateway's identity, as `pearircd account add` does.
                let identity = first ? gateway.identity.keyPair : nil
                let role: AccountRole = first || words.count == 4 ? .admin : .user
                let password = Array(words[2].utf8)
                let added = try await logins.hashing.run { try database.add(name, password: password, role: role, identity: identity) }
                var lines = ["Added \(added.name) (\(added.role.rawValue)), identity \(ZBase32.encode(added.identity))."]
                if first {
                    lines.append("This gateway has an account now: every new connection must log in (SASL, or PASS \(added.name):PASSWORD).")
                } else {
                    lines.append("\(added.name) is a person of their own in the rooms: their lines are signed with this identity.")
                }
                return lines
            case "remove":
                let name = try named(1)
                try database.remove(name)
                accountsChanged?()
                return ["Removed \(name.text) (their identity's logs stay in the store)."]
            case "role":
                guard words.count == 3, let role = AccountRole(rawValue: words[2].lowercased()) else { return usage }
                let name = try named(1)
                try database.setRole(name, to: role)
                accountsChanged?()
                return ["\(name.text) is now \(role == .admin ? "an admin" : "a user")."]
            case "disable", "enable":
                let name = try named(1)
                try database.setDisabled(name, subcommand == "disable")
                accountsChanged?()
                return ["\(name.text) is \(subcommand)d."]
            case "registration":
                switch words.count == 2 ? words[1].lowercased() : nil {
                case "open"?: try database.setRegistration(open: true)
                case "closed"?, "close"?: try database.setRegistration(open: false)
                case nil where words.count == 1: break
                default: return usage
                }
                logins.registrationChanged()
                return [try database.registrationOpen
                    ? "Registration is open: anyone who reaches the gateway can make an account (a user) with /REGISTER."
                    : "Registration is closed: only admins add accounts."]
            default:
                return usage
            }
        } catch is UsageError {
            return usage
        } catch {
            return ["Nothing changed: \(error)."]
        }
    }

    private struct UsageError: Error {}

    static func describe(_ account: Account) -> String {
        let format = ISO8601DateFormatter()
        let last = account.lastLogin.map { "last login \(format.string(from: $0))" } ?? "never logged in"
        return "  \(account.name)  \(account.role.rawValue)\(account.disabled ? "  disabled" : "")  \(last)  identity \(ZBase32.encode(account.identity).prefix(12))…"
    }
}
