import Foundation
import IRCServer
import Synchronization

/// What an account's logins grant right now: its role, or nothing when it is disabled or gone.
///
/// A login is checked once; what changes afterwards (`pearircd account role|disable|remove` from the command line
/// while the daemon runs, or PearServ's `account` commands) must reach the clients already logged in: a demoted admin
/// stops being an IRC operator, a disabled or removed account's connections are closed. `AccountStandings` keeps the
/// last standings it saw and says what changed since (`changes()`); the gateway asks after each PearServ account command
/// and every few seconds for the command line's changes (`AccountStandingService`).
public struct AccountStanding: Hashable, Sendable {
    /// The account's name as written (logins name it so).
    public var name: String
    public var role: AccountRole
    public var disabled: Bool

    /// The login this standing grants; nil for none.
    public var login: AccountLogin? { disabled ? nil : AccountLogin(account: name, isOperator: role == .admin) }

    /// What changed from `old` to `new` (keyed by folded name), as the IRC core hears it: each account whose login
    /// grants something else now, with what it grants (nil: it may no longer log in), in name order. An account that
    /// appeared counts too (someone may have logged in to it before it was first seen here, and been changed since);
    /// telling a login what it already has changes nothing.
    public static func changes(from old: [String: AccountStanding], to new: [String: AccountStanding]) -> [BackendEvent] {
        var events: [BackendEvent] = []
        for folded in Set(old.keys).union(new.keys).sorted() {
            let before = old[folded], after = new[folded]
            guard after?.login != before?.login, let name = after?.name ?? before?.name else { continue }
            events.append(.accountChanged(account: name, login: after?.login))
        }
        return events
    }
}

/// The standings last seen, and what changed since.
public final class AccountStandings: Sendable {
    let database: AccountDatabase
    private let last: Mutex<[String: AccountStanding]>

    public init(database: AccountDatabase) {
        self.database = database
        last = Mutex((try? Self.read(database)) ?? [:])
    }

    /// The changes since the last call (or since this was made), as events for the IRC core. A database that cannot be
    /// read now changes nothing (the next call tries again).
    public func changes() -> [BackendEvent] {
        guard let now = try? Self.read(database) else { return [] }
        return last.withLock { last in
            defer { last = now }
            return AccountStanding.changes(from: last, to: now)
        }
    }

    static func read(_ database: AccountDatabase) throws -> [String: AccountStanding] {
        var standings: [String: AccountStanding] = [:]
        for account in try database.list() {
            standings[AccountName.fold(account.name)] = AccountStanding(name: account.name, role: account.role, disabled: account.disabled)
        }
        return standings
    }
}
