import Foundation
import HyperLog
import IRCServer
import Logging
import Synchronization

/// Logins to a gateway's accounts (issue 20), for the IRC front end (and the web one next): SASL PLAIN and
/// `PASS account:password` against the Argon2id hash, SASL SCRAM-SHA-256 against the stored credentials, SASL
/// EXTERNAL by a registered TLS client certificate, and which role a logged-in account has now. The database is read
/// at every call, so what `pearircd account …` changes while the daemon runs counts at the next login or command.
/// Each account is its own person in the rooms (`AccountPeople`).
public final class AccountLogins: Sendable {
    public let database: AccountDatabase
    /// Which person each account is.
    public let people: AccountPeople
    let hashing: HashingGate
    let logger: Logger

    public init(database: AccountDatabase, hashing: HashingGate = HashingGate(), logger: Logger) {
        self.database = database
        people = AccountPeople(database: database)
        self.hashing = hashing
        self.logger = logger
    }

    /// Whether the gateway has any account (then every connection must log in).
    public var hasAccounts: Bool { (try? !database.isEmpty) ?? true }

    /// Whether people may make their own accounts (REGISTER) now: an admin opened it, and the gateway has accounts
    /// (the first is its owner's, made with the CLI). Asked on the IRC loop (CAP LS, REGISTER), so read from the
    /// database at most every two seconds (what `pearircd account registration` changes counts within that).
    public var registrationOpen: Bool {
        let now = ContinuousClock.now
        if let known = registration.withLock({ $0.flatMap { now - $0.read < .seconds(2) ? $0.open : nil } }) { return known }
        let open = ((try? database.registrationOpen) ?? false) && hasAccounts
        registration.withLock { $0 = (open, now) }
        return open
    }

    /// An admin changed the setting here: read afresh next time.
    public func registrationChanged() {
        registration.withLock { $0 = nil }
    }

    private let registration = Mutex<(open: Bool, read: ContinuousClock.Instant)?>(nil)

    /// IRCv3 `REGISTER`: a user account with an identity of its own, when registration is open.
    public func register(account: String, password: String) async -> AccountRegistrationOutcome {
        guard registrationOpen else {
            return .unavailable("this gateway's admins add its accounts (self-registration is closed): ask one of them")
        }
        let name: AccountName
        do {
            name = try AccountName(account)
        } catch {
            return .badAccountName("\(error)")
        }
        let database = self.database
        do {
            let added = try await hashing.run { try database.add(name, password: Array(password.utf8), role: .user) }
            logger.info("an account registered itself", metadata: ["account": "\(added.name)"])
            return .registered(AccountLogin(account: added.name, isOperator: false))
        } catch let failure as AccountDatabase.Failure {
            switch failure {
            case .nameTaken: return .accountExists
            case .emptyPassword, .passwordTooLong, .passwordHasNUL: return .unacceptablePassword("\(failure)")
            default: return .unavailable("\(failure)")
            }
        } catch let busy as HashingGate.Busy {
            return .unavailable("\(busy); try again in a moment")
        } catch {
            logger.error("could not register an account", metadata: ["account": "\(account)", "error": "\(error)"])
            return .unavailable("the gateway could not write its accounts; try again later")
        }
    }

    public func authenticate(_ credentials: SASLCredentials) async -> AccountLogin? {
        if case .granted(let login) = await verdict(credentials) { return login }
        return nil
    }

    /// The verdict on `credentials`: granted, refused, or (too many hashes waiting, a database that cannot be read)
    /// not checkable now, which the IRC core does not count as a failed login.
    public func verdict(_ credentials: SASLCredentials) async -> AuthenticationVerdict {
        let account: Account?
        switch credentials {
        case .plain(let user, let password):
            guard let name = try? AccountName(user), password.utf8.count <= AccountDatabase.maximumPasswordLength else { return .refused }
            let database = self.database
            do {
                account = try await hashing.run { try database.verify(name, password: Array(password.utf8)) }
            } catch let busy as HashingGate.Busy {
                logger.warning("login not checked: \(busy)", metadata: ["account": "\(user)"])
                return .unavailable("the gateway is checking too many logins at once; try again in a moment")
            } catch {
                logger.error("could not check a login", metadata: ["account": "\(user)", "error": "\(error)"])
                return .unavailable("the gateway could not read its accounts; try again later")
            }
        case .external(let fingerprint, let wanted):
            account = try? database.account(forCertificate: fingerprint)
            // A client may name the account it wants; the certificate must belong to that very account.
            if let wanted, let found = account, AccountName.fold(wanted) != AccountName.fold(found.name) { return .refused }
        case .scram(let name):
            // The proof was checked against credentials read a moment ago: the account must still be there, enabled.
            account = (try? AccountName(name)).flatMap { try? database.account(named: $0) }.flatMap { $0.disabled ? nil : $0 }
        }
        guard let account else { return .refused }
        if let name = try? AccountName(account.name) { try? database.recordLogin(name) }
        return .granted(AccountLogin(account: account.name, isOperator: account.role == .admin))
    }

    /// SCRAM credentials of an enabled account; nil otherwise (the IRC core then goes on with a decoy).
    public func scramCredentials(for account: String) -> SCRAMCredentials? {
        guard let name = try? AccountName(account), let found = try? database.account(named: name), !found.disabled else { return nil }
        return try? database.scramCredentials(of: name)
    }

    /// The role an account has now: nil for no account (not logged in, or removed meanwhile), and admin for everyone
    /// while the gateway has no accounts (one user, loopback only: they own it).
    public func role(of account: String?) -> AccountRole? {
        guard hasAccounts else { return .admin }
        guard let account, let name = try? AccountName(account), let found = try? database.account(named: name), !found.disabled
        else { return nil }
        return found.role
    }
}
