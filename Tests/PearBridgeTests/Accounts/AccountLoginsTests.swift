import Foundation
import HyperLog
import IRCServer
import Logging
import Sodium
import Synchronization
import Testing

@testable import PearBridge

/// Logins against the accounts database (issue 20): PLAIN (and PASS) by password, EXTERNAL by a registered
/// certificate, SCRAM confirmed; disabled and removed accounts refused; admins are operators; every account is a person
/// of its own (`AccountPeople`); roles read afresh.
// Serialized: two tests hold a hashing slot with a blocking wait (as a hash does), each taking a thread of the small
// cooperative pool; run together they could take both.
@Suite(.serialized) struct AccountLoginsTests {
    struct Fixture {
        let database: AccountDatabase
        let logins: AccountLogins
        let identity: Ed25519.KeyPair
        let file: URL

        func cleanUp() { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
    }

    static func fixture(hashing: HashingGate = HashingGate()) throws -> Fixture {
        let (database, file) = try AccountDatabaseTests.database()
        let identity = Ed25519.randomKeyPair()
        let logins = AccountLogins(database: database, hashing: hashing, logger: Logger(label: "test"))
        return Fixture(database: database, logins: logins, identity: identity, file: file)
    }

    static let fingerprint = String(repeating: "3f", count: 32)

    @Test func passwordsCertificatesAndSCRAMLogIn() async throws {
        let f = try Self.fixture()
        defer { f.cleanUp() }
        #expect(f.logins.role(of: nil) == .admin, "no accounts: the one loopback user owns the gateway")
        #expect(!f.logins.hasAccounts)
        try f.database.add(AccountName("Alice"), password: Array("correct horse".utf8), role: .admin, identity: f.identity)
        #expect(f.logins.hasAccounts)
        #expect(await f.logins.authenticate(.plain(user: "alice", password: "correct horse")) == AccountLogin(account: "Alice", isOperator: true))
        #expect(await f.logins.authenticate(.plain(user: "alice", password: "correct horsE")) == nil)
        #expect(await f.logins.authenticate(.plain(user: "nobody", password: "correct horse")) == nil)
        #expect(await f.logins.authenticate(.plain(user: "al ice", password: "x")) == nil)
        #expect(await f.logins.authenticate(.plain(user: "alice", password: String(repeating: "x", count: 300))) == nil)
        #expect(try f.database.account(named: AccountName("alice"))?.lastLogin != nil, "a login is recorded")

        // EXTERNAL: only a registered certificate, and only for its own account.
        #expect(await f.logins.authenticate(.external(certificateFingerprint: Self.fingerprint, authorizationIdentity: nil)) == nil)
        let colons = stride(from: 0, to: 64, by: 2).map { i in Self.fingerprint.dropFirst(i).prefix(2).uppercased() }.joined(separator: ":")
        try f.database.addCertificate(colons, to: AccountName("alice"))
        #expect(await f.logins.authenticate(.external(certificateFingerprint: Self.fingerprint, authorizationIdentity: nil))?.account == "Alice")
        #expect(await f.logins.authenticate(.external(certificateFingerprint: Self.fingerprint, authorizationIdentity: "ALICE"))?.account == "Alice")
        #expect(await f.logins.authenticate(.external(certificateFingerprint: Self.fingerprint, authorizationIdentity: "bob")) == nil)

        // SCRAM: the core checked the proof; the login is confirmed while the account is there and enabled.
        #expect(f.logins.scramCredentials(for: "alice") != nil)
        #expect(await f.logins.authenticate(.scram(account: "alice"))?.isOperator == true)
        try f.database.add(AccountName("root2"), password: Array("pw".utf8), role: .admin)
        try f.database.setDisabled(AccountName("alice"), true)
        #expect(await f.logins.authenticate(.scram(account: "alice")) == nil)
        #expect(f.logins.scramCredentials(for: "alice") == nil)
        #expect(await f.logins.authenticate(.plain(user: "alice", password: "correct horse")) == nil)
        #expect(await f.logins.authenticate(.external(certificateFingerprint: Self.fingerprint, authorizationIdentity: nil)) == nil)
        #expect(f.logins.role(of: "alice") == nil)
    }

    @Test func everyAccountLogsInAsAPersonOfItsOwn() async throws {
        let f = try Self.fixture()
        defer { f.cleanUp() }
        try f.database.add(AccountName("owner"), password: Array("pw-owner".utf8), role: .admin, identity: f.identity)
        let guest = try f.database.add(AccountName("Guest"), password: Array("pw-guest".utf8), role: .user)
        #expect(await f.logins.authenticate(.plain(user: "guest", password: "pw-guest")) == AccountLogin(account: "Guest", isOperator: false))
        #expect(await f.logins.authenticate(.plain(user: "owner", password: "pw-owner"))?.account == "owner")
        // Each account is its own identity; looked up once, then known without a query (the IRC loop's msgids).
        #expect(f.logins.people.known("guest") == nil)
        #expect(f.logins.people.person(of: "GUEST")?.keyPair.publicKey == guest.identity)
        #expect(f.logins.people.known("guest")?.account == "Guest")
        #expect(f.logins.people.person(of: "owner")?.keyPair.publicKey == f.identity.publicKey)
        #expect(f.logins.people.account(of: f.identity.publicKey) == "owner")
        #expect(f.logins.people.account(of: guest.identity) == "Guest")
        #expect(f.logins.people.person(of: "nobody") == nil && f.logins.people.person(of: "no body") == nil)
        try f.database.add(AccountName("off"), password: Array("pw".utf8), role: .user)
        try f.database.setDisabled(AccountName("off"), true)
        #expect(Set(f.logins.people.everyone().map(\.account)) == ["owner", "Guest", "off"], "disabled accounts keep their person")
        // Forgotten (removed), an account is read afresh: a new account of that name is someone else.
        try f.database.remove(AccountName("guest"))
        let newGuest = try f.database.add(AccountName("guest"), password: Array("pw2".utf8), role: .user)
        #expect(f.logins.people.person(of: "guest")?.keyPair.publicKey == guest.identity, "still the one looked up")
        f.logins.people.forget("GUEST")
        #expect(f.logins.people.person(of: "guest")?.keyPair.publicKey == newGuest.identity)
        #expect(f.logins.people.account(of: guest.identity) == nil)
        #expect(f.logins.role(of: "guest") == .user)
        #expect(f.logins.role(of: "owner") == .admin)
        #expect(f.logins.role(of: nil) == nil, "with accounts, no login means no role")
        try f.database.setRole(AccountName("guest"), to: .admin)
        #expect(f.logins.role(of: "guest") == .admin, "a role change counts at once")
    }

    /// REGISTER: refused while closed and while the gateway has no accounts (its first is its owner's, made with the
    /// CLI); open, it makes a user account that logs in at once; taken names, bad names and passwords are told apart.
    @Test func selfRegistrationOnlyWhileAnAdminAllowsIt() async throws {
        let f = try Self.fixture()
        defer { f.cleanUp() }
        try f.database.setRegistration(open: true)
        f.logins.registrationChanged()
        #expect(!f.logins.registrationOpen, "no accounts yet: nobody registers the owner's gateway away")
        guard case .unavailable = await f.logins.register(account: "dave", password: "pw") else {
            Issue.record("registered on a gateway without accounts")
            return
        }
        try f.database.add(AccountName("root"), password: Array("root-pw".utf8), role: .admin, identity: f.identity)
        try f.database.setRegistration(open: false)
        f.logins.registrationChanged()
        #expect(!f.logins.registrationOpen)
        guard case .unavailable = await f.logins.register(account: "dave", password: "pw") else {
            Issue.record("registered while closed")
            return
        }
        try f.database.setRegistration(open: true)
        f.logins.registrationChanged()
        #expect(f.logins.registrationOpen)
        #expect(await f.logins.register(account: "Dave", password: "dave-pw") == .registered(AccountLogin(account: "Dave", isOperator: false)))
        #expect(try f.database.account(named: AccountName("dave"))?.role == .user)
        #expect(await f.logins.authenticate(.plain(user: "dave", password: "dave-pw"))?.account == "Dave")
        #expect(await f.logins.register(account: "DAVE", password: "other") == .accountExists)
        guard case .badAccountName = await f.logins.register(account: "no spaces", password: "pw") else {
            Issue.record("a bad name was taken")
            return
        }
        guard case .unacceptablePassword = await f.logins.register(account: "erin", password: "") else {
            Issue.record("an empty password was taken")
            return
        }
        #expect(try f.database.list().map(\.name).sorted() == ["Dave", "root"])
    }

    @Test func certificatesBelongToOneAccountAndGoWithIt() throws {
        let f = try Self.fixture()
        defer { f.cleanUp() }
        try f.database.add(AccountName("a1"), password: Array("pw".utf8), role: .admin)
        try f.database.add(AccountName("b1"), password: Array("pw".utf8), role: .user)
        #expect(throws: AccountDatabase.Failure.malformedFingerprint) { try f.database.addCertificate("abc", to: AccountName("a1")) }
        #expect(throws: AccountDatabase.Failure.malformedFingerprint) {
            try f.database.addCertificate(String(repeating: "zz", count: 32), to: AccountName("a1"))
        }
        #expect(throws: AccountDatabase.Failure.noSuchAccount("c1")) { try f.database.addCertificate(Self.fingerprint, to: AccountName("c1")) }
        try f.database.addCertificate(Self.fingerprint, to: AccountName("a1"))
        try f.database.addCertificate(Self.fingerprint.uppercased(), to: AccountName("A1"))  // the same: no change
        #expect(throws: AccountDatabase.Failure.certificateTaken("a1")) { try f.database.addCertificate(Self.fingerprint, to: AccountName("b1")) }
        #expect(try f.database.certificates(of: AccountName("a1")) == [Self.fingerprint])
        #expect(throws: AccountDatabase.Failure.noSuchCertificate) { try f.database.removeCertificate(Self.fingerprint, from: AccountName("b1")) }
        try f.database.addCertificate(String(repeating: "01", count: 32), to: AccountName("b1"))
        try f.database.remove(AccountName("b1"))
        #expect(try f.database.account(forCertificate: String(repeating: "01", count: 32)) == nil)
        #expect(try f.database.certificates(of: AccountName("b1")).isEmpty, "an account's certificates go with it")
        try f.database.removeCertificate(Self.fingerprint, from: AccountName("a1"))
        #expect(try f.database.account(forCertificate: Self.fingerprint) == nil)
    }

    /// A database made by the first release of accounts (v1 only) gains the certificates table, accounts kept.
    @Test func aVersionOneDatabaseIsMigrated() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-v1-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent(AccountDatabase.fileName)
        let v1 = try AccountDatabaseTests.databaseAt(file, upTo: "accounts-v1")
        try v1.add(AccountName("old"), password: Array("pw".utf8), role: .admin)
        let migrated = try AccountDatabase(file: file, cost: .minimum, scramIterations: 4096)
        #expect(try migrated.list().map(\.name) == ["old"])
        try migrated.addCertificate(Self.fingerprint, to: AccountName("old"))
        #expect(try migrated.account(forCertificate: Self.fingerprint)?.name == "old")
    }

    @Test func theHashingGateBoundsConcurrentHashesAndRefusesAFlood() async throws {
        // One slot: the work blocks its thread (as a hash does), and the test's own task needs one of the pool's.
        let gate = HashingGate(concurrent: 1, waiting: 3)
        final class Shared: Sendable {
            let release = Mutex(false)
            let peak = Mutex((now: 0, most: 0))
        }
        let shared = Shared()
        // Six at once against one slot and three places in the queue: two are refused at once.
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    do {
                        try await gate.run {
                            shared.peak.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                            while !shared.release.withLock({ $0 }) { usleep(1000) }
                            shared.peak.withLock { $0.now -= 1 }
                        }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            // Released once the flood has been sorted: one running, three waiting, two refused.
            let deadline = ContinuousClock.now + .seconds(20)
            while gate.load != (1, 3), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
            shared.release.withLock { $0 = true }
            var results: [Bool] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(outcomes.count(where: { $0 }) == 4)
        #expect(outcomes.count(where: { !$0 }) == 2)
        #expect(shared.peak.withLock { $0.most } == 1)
        #expect(gate.load == (0, 0))
    }
}

extension AccountLoginsTests {
    /// A login the hashing gate cannot take now is not a refusal: the IRC core does not count it as a failed login.
    @Test func aLoginThatCannotBeCheckedNowIsUnavailableNotRefused() async throws {
        let gate = HashingGate(concurrent: 1, waiting: 0)
        let f = try Self.fixture(hashing: gate)
        defer { f.cleanUp() }
        try f.database.add(AccountName("alice"), password: Array("pw".utf8), role: .admin, identity: f.identity)
        final class Latch: Sendable { let open = Mutex(false) }
        let latch = Latch()
        let holder = Task { try await gate.run { while !latch.open.withLock({ $0 }) { usleep(1000) } } }
        try await waitUntil("the only slot taken") { gate.load == (1, 0) }
        let verdict = await f.logins.verdict(.plain(user: "alice", password: "pw"))
        guard case .unavailable(let reason) = verdict else {
            Issue.record("expected unavailable, got \(verdict)")
            latch.open.withLock { $0 = true }
            return
        }
        #expect(reason.contains("try again"))
        latch.open.withLock { $0 = true }
        try await holder.value
        #expect(await f.logins.verdict(.plain(user: "alice", password: "pw")) == .granted(AccountLogin(account: "alice", isOperator: true)))
        #expect(await f.logins.verdict(.plain(user: "alice", password: "wrong")) == .refused)
    }
}
