import Foundation
import GRDB
import IRCServer
import HyperLog
import Sodium

/// What an account may do on its gateway (docs/user-guide.md lists each command's role).
public enum AccountRole: String, Sendable, Hashable, CaseIterable, Codable {
    /// Manages accounts, peers, relays and settings.
    case admin
    /// Chats, and manages their own password, invites and ignores.
    case user
}

/// One account as the database holds it (never its password or secret key).
public struct Account: Sendable, Hashable {
    public var name: String
    public var role: AccountRole
    public var created: Date
    public var lastLogin: Date?
    public var disabled: Bool
    /// The account's identity on the network (its Ed25519 public key): its lines are signed by its own keys.
    public var identity: [UInt8]
}

/// The accounts of a gateway (issue 20): `accounts.sqlite` in the data directory, mode 0600, with versioned
/// migrations. It is the source of truth: the CLI (`pearircd account …`) writes it while the daemon runs, SQLite's own
/// locking keeping the two apart.
///
/// Per account: the name (unique regardless of case), an Argon2id hash of the password (`crypto_pwhash_str`, at
/// libsodium's interactive cost: 2 passes over 64 MiB, above OWASP's 19 MiB), SCRAM-SHA-256 credentials beside it (so
/// SASL SCRAM works without keeping the password), the role, when it was made and last logged in, whether it is
/// disabled, and its identity key pair's seed (each account is its own Holepunch identity).
public final class AccountDatabase: Sendable {
    public static let fileName = "accounts.sqlite"
    /// Longest password taken (SASL PLAIN carries it in one 400-byte-chunked message; anything longer is a mistake or
    /// an attack on the hash).
    public static let maximumPasswordLength = 256

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case nameTaken(String)
        case noSuchAccount(String)
        case emptyPassword
        case passwordTooLong
        /// A NUL byte: SASL PLAIN could never carry it.
        case passwordHasNUL
        /// The last enabled admin cannot be removed, demoted or disabled: nobody could manage the gateway after.
        case lastAdmin(String)
        /// Not a SHA-256 fingerprint (64 hex digits, colons allowed).
        case malformedFingerprint
        /// The certificate belongs to another account already.
        case certificateTaken(String)
        case noSuchCertificate

        public var description: String {
            switch self {
            case .nameTaken(let name): "an account called \(name) exists already"
            case .noSuchAccount(let name): "there is no account called \(name)"
            case .emptyPassword: "a password cannot be empty"
            case .passwordTooLong: "a password has at most \(AccountDatabase.maximumPasswordLength) bytes"
            case .passwordHasNUL: "a password cannot hold a NUL byte"
            case .lastAdmin(let name): "\(name) is the last admin: make another admin first"
            case .malformedFingerprint: "a certificate fingerprint is the SHA-256 of its DER form: 64 hex digits (colons allowed)"
            case .certificateTaken(let name): "that certificate logs in to \(name) already"
            case .noSuchCertificate: "that account has no such certificate"
            }
        }
    }

    let queue: DatabaseQueue
    let cost: PasswordHash.Cost
    let scramIterations: Int

    /// Opens (creating and migrating as needed) the database at `file`. `cost`, `scramIterations` and `upTo` (the last
    /// migration to apply, as an earlier release would have) are for tests; the defaults are the real ones.
    public init(
        file: URL, cost: PasswordHash.Cost = .interactive, scramIterations: Int = SCRAMCredentials.defaultIterations,
        upTo lastMigration: String? = nil
    ) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: file.path, configuration: configuration)
        chmod(file.path, 0o600)
        self.cost = cost
        self.scramIterations = scramIterations
        if let lastMigration { try Self.migrator.migrate(queue, upTo: lastMigration) } else { try Self.migrator.migrate(queue) }
    }

    public convenience init(in directory: DataDirectory) throws {
        try self.init(file: directory.file(Self.fileName))
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("accounts-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE account (
                        folded TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        password_hash TEXT NOT NULL,
                        scram_salt BLOB NOT NULL,
                        scram_iterations INTEGER NOT NULL,
                        scram_stored_key BLOB NOT NULL,
                        scram_server_key BLOB NOT NULL,
                        role TEXT NOT NULL,
                        created REAL NOT NULL,
                        last_login REAL,
                        disabled INTEGER NOT NULL DEFAULT 0,
                        identity_seed BLOB NOT NULL
                    ) STRICT
                    """)
        }
        // SASL EXTERNAL: TLS client certificates (their SHA-256 fingerprint, lowercase hex) that log in to an account.
        migrator.registerMigration("certificates-v2") { db in
            try db.execute(
                sql: """
                    CREATE TABLE certificate (
                        fingerprint TEXT PRIMARY KEY NOT NULL,
                        account TEXT NOT NULL REFERENCES account(folded) ON DELETE CASCADE
                    ) STRICT
                    """)
        }
        // Gateway settings an admin changes (one row per setting): whether people may make their own accounts.
        migrator.registerMigration("settings-v3") { db in
            try db.execute(sql: "CREATE TABLE setting (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT")
        }
        return migrator
    }

    // MARK: - Settings

    /// Whether anyone who reaches the gateway may make an account of their own (IRCv3 `REGISTER`); closed unless an
    /// admin opened it.
    public var registrationOpen: Bool {
        get throws {
            try queue.read { db in
                try String.fetchOne(db, sql: "SELECT value FROM setting WHERE name = 'registration'") == "open"
            }
        }
    }

    public func setRegistration(open: Bool) throws {
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO setting (name, value) VALUES ('registration', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                arguments: [open ? "open" : "closed"])
        }
    }

    // MARK: - Reading

    public func list() throws -> [Account] {
        try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM account ORDER BY folded").map(Self.account) }
    }

    public func account(named name: AccountName) throws -> Account? {
        try queue.read { db in try Row.fetchOne(db, sql: "SELECT * FROM account WHERE folded = ?", arguments: [name.folded]).map(Self.account) }
    }

    public var isEmpty: Bool {
        get throws { try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM account") ?? 0 } == 0 }
    }

    /// The account if `password` is its password and it is enabled; nil otherwise (a wrong password, no such account
    /// and a disabled account look the same to the caller, and cost about the same: a hash is checked either way).
    public func verify(_ name: AccountName, password: [UInt8]) throws -> Account? {
        let row = try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM account WHERE folded = ?", arguments: [name.folded])
        }
        guard let row else {
            // As long as a real check, so timing does not tell which names exist.
            _ = PasswordHash.verify(password: password, hash: Self.decoyHash)
            return nil
        }
        let matches = PasswordHash.verify(password: password, hash: row["password_hash"])
        let account = Self.account(row)
        return matches && !account.disabled ? account : nil
    }

    /// The enabled account a TLS client certificate logs in to (SASL EXTERNAL); nil for none.
    public func account(forCertificate fingerprint: String) throws -> Account? {
        guard let normalised = Self.normalisedFingerprint(fingerprint) else { return nil }
        return try queue.read { db in
            try Row.fetchOne(
                db, sql: "SELECT account.* FROM certificate JOIN account ON account.folded = certificate.account WHERE fingerprint = ?",
                arguments: [normalised]
            ).map(Self.account)
        }.flatMap { $0.disabled ? nil : $0 }
    }

    /// The fingerprints of the certificates that log in to an account.
    public func certificates(of name: AccountName) throws -> [String] {
        try queue.read { db in
            try String.fetchAll(db, sql: "SELECT fingerprint FROM certificate WHERE account = ? ORDER BY fingerprint", arguments: [name.folded])
        }
    }

    /// A hash of no password anyone has, checked when the name does not exist.
    private static let decoyHash: String = (try? PasswordHash.hash(password: RandomBytes.generate(count: 16), cost: .interactive)) ?? ""

    public func scramCredentials(of name: AccountName) throws -> SCRAMCredentials? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM account WHERE folded = ?", arguments: [name.folded]).map { row in
                SCRAMCredentials(
                    salt: Self.bytes(row, "scram_salt"), iterations: row["scram_iterations"],
                    storedKey: Self.bytes(row, "scram_stored_key"), serverKey: Self.bytes(row, "scram_server_key"))
            }
        }
    }

    /// The account's identity key pair (its lines are signed with it).
    public func identityKeyPair(of name: AccountName) throws -> Ed25519.KeyPair? {
        let seed: [UInt8]? = try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT identity_seed FROM account WHERE folded = ?", arguments: [name.folded]).map {
                Self.bytes($0, "identity_seed")
            }
        }
        return try seed.map { seed in try Ed25519.keyPair(seed: seed) }
    }

    /// SQLite's own check of the file (`["ok"]` when sound).
    public func integrityCheck() throws -> [String] {
        try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    // MARK: - Changing

    /// Adds an account. `identity`: its key pair (the gateway's existing identity for the first account, so the people
    /// who know that key keep knowing it); a new one when nil.
    @discardableResult
    public func add(_ name: AccountName, password: [UInt8], role: AccountRole, identity: Ed25519.KeyPair? = nil, at time: Date = Date()) throws -> Account {
        let secrets = try Self.secrets(for: password, cost: cost, scramIterations: scramIterations)
        let keyPair = identity ?? Ed25519.randomKeyPair()
        return try queue.write { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM account WHERE folded = ?", arguments: [name.folded]) == nil else {
                throw Failure.nameTaken(name.text)
            }
            try db.execute(
                sql: """
                    INSERT INTO account (folded, name, password_hash, scram_salt, scram_iterations, scram_stored_key,
                        scram_server_key, role, created, disabled, identity_seed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
                    """,
                arguments: [
                    name.folded, name.text, secrets.hash, Data(secrets.scram.salt), secrets.scram.iterations,
                    Data(secrets.scram.storedKey), Data(secrets.scram.serverKey), role.rawValue, time.timeIntervalSince1970,
                    Data(keyPair.seed.bytes),
                ])
            return Account(name: name.text, role: role, created: time, lastLogin: nil, disabled: false, identity: keyPair.publicKey)
        }
    }

    public func setPassword(_ name: AccountName, to password: [UInt8]) throws {
        let secrets = try Self.secrets(for: password, cost: cost, scramIterations: scramIterations)
        try queue.write { db in
            try db.execute(
                sql: """
                    UPDATE account SET password_hash = ?, scram_salt = ?, scram_iterations = ?, scram_stored_key = ?,
                        scram_server_key = ? WHERE folded = ?
                    """,
                arguments: [
                    secrets.hash, Data(secrets.scram.salt), secrets.scram.iterations, Data(secrets.scram.storedKey),
                    Data(secrets.scram.serverKey), name.folded,
                ])
            guard db.changesCount == 1 else { throw Failure.noSuchAccount(name.text) }
        }
    }

    public func setRole(_ name: AccountName, to role: AccountRole) throws {
        try queue.write { db in
            if role != .admin { try Self.keepAnAdmin(db, besides: name) }
            try db.execute(sql: "UPDATE account SET role = ? WHERE folded = ?", arguments: [role.rawValue, name.folded])
            guard db.changesCount == 1 else { throw Failure.noSuchAccount(name.text) }
        }
    }

    public func setDisabled(_ name: AccountName, _ disabled: Bool) throws {
        try queue.write { db in
            if disabled { try Self.keepAnAdmin(db, besides: name) }
            try db.execute(sql: "UPDATE account SET disabled = ? WHERE folded = ?", arguments: [disabled, name.folded])
            guard db.changesCount == 1 else { throw Failure.noSuchAccount(name.text) }
        }
    }

    public func remove(_ name: AccountName) throws {
        try queue.write { db in
            try Self.keepAnAdmin(db, besides: name)
            try db.execute(sql: "DELETE FROM account WHERE folded = ?", arguments: [name.folded])
            guard db.changesCount == 1 else { throw Failure.noSuchAccount(name.text) }
        }
    }

    /// Lets a TLS client certificate log in to an account (SASL EXTERNAL). `fingerprint`: SHA-256 of its DER form,
    /// hex, any case, colons allowed (as `openssl x509 -fingerprint -sha256` prints it).
    public func addCertificate(_ fingerprint: String, to name: AccountName) throws {
        guard let normalised = Self.normalisedFingerprint(fingerprint) else { throw Failure.malformedFingerprint }
        try queue.write { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM account WHERE folded = ?", arguments: [name.folded]) != nil else {
                throw Failure.noSuchAccount(name.text)
            }
            if let holder = try String.fetchOne(
                db, sql: "SELECT account.name FROM certificate JOIN account ON account.folded = certificate.account WHERE fingerprint = ?",
                arguments: [normalised])
            {
                if AccountName.fold(holder) == name.folded { return }
                throw Failure.certificateTaken(holder)
            }
            try db.execute(sql: "INSERT INTO certificate (fingerprint, account) VALUES (?, ?)", arguments: [normalised, name.folded])
        }
    }

    public func removeCertificate(_ fingerprint: String, from name: AccountName) throws {
        guard let normalised = Self.normalisedFingerprint(fingerprint) else { throw Failure.malformedFingerprint }
        try queue.write { db in
            try db.execute(sql: "DELETE FROM certificate WHERE fingerprint = ? AND account = ?", arguments: [normalised, name.folded])
            guard db.changesCount == 1 else { throw Failure.noSuchCertificate }
        }
    }

    /// Lowercase hex without separators; nil unless it is 32 bytes' worth.
    static func normalisedFingerprint(_ text: String) -> String? {
        let hex = text.lowercased().filter { $0 != ":" }
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
        return hex
    }

    public func recordLogin(_ name: AccountName, at time: Date = Date()) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE account SET last_login = ? WHERE folded = ?", arguments: [time.timeIntervalSince1970, name.folded])
        }
    }

    // MARK: - Parts

    /// Refuses a change that would leave no enabled admin while `name` is one of them.
    private static func keepAnAdmin(_ db: Database, besides name: AccountName) throws {
        let isAdmin = try Bool.fetchOne(
            db, sql: "SELECT role = 'admin' AND disabled = 0 FROM account WHERE folded = ?", arguments: [name.folded]) ?? false
        guard isAdmin else { return }
        let others = try Int.fetchOne(
            db, sql: "SELECT count(*) FROM account WHERE role = 'admin' AND disabled = 0 AND folded != ?", arguments: [name.folded]) ?? 0
        if others == 0 { throw Failure.lastAdmin(name.text) }
    }

    private static func secrets(for password: [UInt8], cost: PasswordHash.Cost, scramIterations: Int) throws
        -> (hash: String, scram: SCRAMCredentials)
    {
        guard !password.isEmpty else { throw Failure.emptyPassword }
        guard password.count <= maximumPasswordLength else { throw Failure.passwordTooLong }
        guard !password.contains(0) else { throw Failure.passwordHasNUL }
        let hash = try PasswordHash.hash(password: password, cost: cost)
        let scram = try SCRAMCredentials.derive(password: password, salt: RandomBytes.generate(count: SCRAMCredentials.saltLength), iterations: scramIterations)
        return (hash, scram)
    }

    private static func bytes(_ row: Row, _ column: String) -> [UInt8] {
        (row[column] as Data?).map(Array.init) ?? []
    }

    private static func account(_ row: Row) -> Account {
        let seed = bytes(row, "identity_seed")
        return Account(
            name: row["name"], role: AccountRole(rawValue: row["role"]) ?? .user,
            created: Date(timeIntervalSince1970: row["created"]),
            lastLogin: (row["last_login"] as Double?).map { Date(timeIntervalSince1970: $0) }, disabled: row["disabled"],
            identity: (try? Ed25519.keyPair(seed: seed).publicKey) ?? [])
    }
}
