import Sodium
import HyperLog
import Synchronization

/// Which person each account is, for a gateway that speaks for several people (each account is its own identity,
/// its lines signed by its own keys): an account's identity key and key pair, and an identity's account.
///
/// Read from the accounts database once per account and kept: an account's identity never changes, and a removed
/// account's clients are closed (`AccountStandings`). The IRC loop asks for every message (its msgid namespace), so
/// the answers it needs are filled in at login, before it asks.
public final class AccountPeople: Sendable {
    public struct Person: Sendable {
        /// The account's name as the database spells it.
        public let account: String
        public let keyPair: Ed25519.KeyPair
    }

    let database: AccountDatabase
    private let byAccount = Mutex<[String: Person]>([:])
    private let accountByIdentity = Mutex<[[UInt8]: String]>([:])

    public init(database: AccountDatabase) {
        self.database = database
    }

    /// Every account's person, disabled ones too (at start: the gateway speaks for them all from the first moment, so
    /// what arrives for any of them is taken, and a disabled account keeps its rooms and conversations; it only cannot
    /// log in).
    public func everyone() -> [Person] {
        let accounts = (try? database.list()) ?? []
        return accounts.compactMap { person(of: $0.name) }
    }

    /// Forgets what was looked up of an account (removed or disabled): the next look-up reads the database again.
    public func forget(_ account: String) {
        guard let name = try? AccountName(account) else { return }
        guard let known = byAccount.withLock({ $0.removeValue(forKey: name.folded) }) else { return }
        accountByIdentity.withLock { $0[known.keyPair.publicKey] = nil }
    }

    /// The person of an account: looked up once (a database read and a key derivation), then kept.
    public func person(of account: String) -> Person? {
        guard let name = try? AccountName(account) else { return nil }
        if let known = byAccount.withLock({ $0[name.folded] }) { return known }
        guard let found = try? database.account(named: name), let keyPair = try? database.identityKeyPair(of: name) else {
            return nil
        }
        let person = Person(account: found.name, keyPair: keyPair)
        byAccount.withLock { $0[name.folded] = person }
        accountByIdentity.withLock { $0[keyPair.publicKey] = found.name }
        return person
    }

    /// A person already looked up (no database read: for the IRC loop).
    public func known(_ account: String) -> Person? {
        guard let name = try? AccountName(account) else { return nil }
        return byAccount.withLock { $0[name.folded] }
    }

    /// The account whose identity this is, among those looked up.
    public func account(of identity: [UInt8]) -> String? {
        accountByIdentity.withLock { $0[identity] }
    }
}
