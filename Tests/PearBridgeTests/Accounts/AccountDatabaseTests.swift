import Foundation
import HyperLog
import IRCServer
import Sodium
import Testing

@testable import PearBridge

/// The accounts database (issue 20): created and migrated from nothing, kept across reopenings, mode 0600; passwords
/// checked (Argon2id) and SCRAM credentials derived beside them; names unique regardless of case; the last admin kept;
/// bad names and passwords refused with nothing stored.
@Suite struct AccountDatabaseTests {
    static func database() throws -> (AccountDatabase, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-accounts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(AccountDatabase.fileName)
        // The cheapest costs libsodium and RFC 7677 allow: the real ones are for people, not tests.
        return (try AccountDatabase(file: file, cost: .minimum, scramIterations: 4096), file)
    }

    static func name(_ text: String) throws -> AccountName { try AccountName(text) }

    /// A database at `file` migrated only up to `migration` (as an earlier release left it).
    static func databaseAt(_ file: URL, upTo migration: String) throws -> AccountDatabase {
        try AccountDatabase(file: file, cost: .minimum, scramIterations: 4096, upTo: migration)
    }

    @Test func anEmptyDatabaseIsCreatedPrivateAndKeepsWhatIsAdded() throws {
        let (database, file) = try Self.database()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        #expect(try database.isEmpty)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let identity = Ed25519.randomKeyPair()
        let alice = try database.add(Self.name("Alice"), password: Array("correct horse".utf8), role: .admin, identity: identity)
        #expect(alice.identity == identity.publicKey && alice.role == .admin && !alice.disabled)
        try database.add(Self.name("bob"), password: Array("hunter22".utf8), role: .user)

        let reopened = try AccountDatabase(file: file, cost: .minimum, scramIterations: 4096)
        #expect(try reopened.list().map(\.name) == ["Alice", "bob"])
        #expect(try reopened.identityKeyPair(of: Self.name("alice"))?.publicKey == identity.publicKey)
        let bobIdentity = try #require(try reopened.identityKeyPair(of: Self.name("BOB")))
        #expect(bobIdentity.publicKey != identity.publicKey, "each account is its own identity")
    }

    @Test func passwordsAreCheckedAndChanged() throws {
        let (database, file) = try Self.database()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try database.add(Self.name("alice"), password: Array("s3cret".utf8), role: .admin)
        try database.add(Self.name("bob"), password: Array("hunter22".utf8), role: .user)
        #expect(try database.verify(Self.name("ALICE"), password: Array("s3cret".utf8))?.name == "alice")
        #expect(try database.verify(Self.name("alice"), password: Array("s3cre".utf8)) == nil)
        #expect(try database.verify(Self.name("nobody"), password: Array("s3cret".utf8)) == nil)
        let before = try #require(try database.scramCredentials(of: Self.name("bob")))
        try database.setPassword(Self.name("bob"), to: Array("new one".utf8))
        #expect(try database.verify(Self.name("bob"), password: Array("hunter22".utf8)) == nil)
        #expect(try database.verify(Self.name("bob"), password: Array("new one".utf8)) != nil)
        #expect(try database.scramCredentials(of: Self.name("bob")) != before)
        // Disabled: the right password no longer logs in.
        try database.setDisabled(Self.name("bob"), true)
        #expect(try database.verify(Self.name("bob"), password: Array("new one".utf8)) == nil)
        try database.setDisabled(Self.name("bob"), false)
        #expect(try database.verify(Self.name("bob"), password: Array("new one".utf8)) != nil)
        try database.recordLogin(Self.name("bob"), at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(try database.account(named: Self.name("bob"))?.lastLogin == Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test func badNamesAndPasswordsAreRefusedAndNothingIsStored() throws {
        let (database, file) = try Self.database()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        #expect(throws: AccountName.Failure.empty) { try AccountName("") }
        #expect(throws: AccountName.Failure.tooLong(33)) { try AccountName(String(repeating: "a", count: 33)) }
        #expect(throws: AccountName.Failure.invalidCharacter) { try AccountName("ali\u{0}ce") }
        #expect(throws: AccountName.Failure.invalidCharacter) { try AccountName("alicé") }
        #expect(throws: AccountName.Failure.invalidCharacter) { try AccountName("a b") }
        #expect(throws: AccountName.Failure.mustStartWithALetter) { try AccountName("1alice") }
        let name = try Self.name("alice")
        #expect(throws: AccountDatabase.Failure.emptyPassword) { try database.add(name, password: [], role: .user) }
        #expect(throws: AccountDatabase.Failure.passwordHasNUL) { try database.add(name, password: [65, 0, 66], role: .user) }
        #expect(throws: AccountDatabase.Failure.passwordTooLong) {
            try database.add(name, password: Array(repeating: 65, count: AccountDatabase.maximumPasswordLength + 1), role: .user)
        }
        #expect(try database.isEmpty)
        try database.add(name, password: Array("pw".utf8), role: .admin)
        #expect(throws: AccountDatabase.Failure.nameTaken("ALICE")) { try database.add(Self.name("ALICE"), password: Array("pw".utf8), role: .user) }
        #expect(throws: AccountDatabase.Failure.noSuchAccount("zed")) { try database.setPassword(Self.name("zed"), to: Array("pw".utf8)) }
        #expect(throws: AccountDatabase.Failure.noSuchAccount("zed")) { try database.remove(Self.name("zed")) }
    }

    @Test func theLastAdminIsKept() throws {
        let (database, file) = try Self.database()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let alice = try Self.name("alice"), bob = try Self.name("bob")
        try database.add(alice, password: Array("pw".utf8), role: .admin)
        try database.add(bob, password: Array("pw".utf8), role: .user)
        #expect(throws: AccountDatabase.Failure.lastAdmin("alice")) { try database.remove(alice) }
        #expect(throws: AccountDatabase.Failure.lastAdmin("alice")) { try database.setRole(alice, to: .user) }
        #expect(throws: AccountDatabase.Failure.lastAdmin("alice")) { try database.setDisabled(alice, true) }
        try database.setRole(bob, to: .admin)
        try database.setRole(alice, to: .user)
        try database.remove(alice)
        #expect(try database.list().map(\.name) == ["bob"])
        #expect(try database.list().first?.role == .admin)
    }
}

/// SCRAM-SHA-256 credentials against RFC 7677's example exchange (user "user", password "pencil").
@Suite struct SCRAMCredentialsTests {
    static let authMessage = Array((
        "n=user,r=rOprNGfwEbeRWgbNEkqO,"
            + "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
            + "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0").utf8)

    @Test func rfc7677sExampleVerifiesAndSigns() throws {
        let salt = try #require(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")).map { $0 }
        let credentials = try SCRAMCredentials.derive(password: Array("pencil".utf8), salt: salt, iterations: 4096)
        let proof = try #require(Data(base64Encoded: "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")).map { $0 }
        #expect(credentials.verify(clientProof: proof, authMessage: Self.authMessage))
        #expect(Data(credentials.serverSignature(authMessage: Self.authMessage)).base64EncodedString()
            == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        var wrong = proof
        wrong[0] ^= 1
        #expect(!credentials.verify(clientProof: wrong, authMessage: Self.authMessage))
        #expect(!credentials.verify(clientProof: Array(proof.prefix(31)), authMessage: Self.authMessage))
        let otherPassword = try SCRAMCredentials.derive(password: Array("pencil2".utf8), salt: salt, iterations: 4096)
        #expect(!otherPassword.verify(clientProof: proof, authMessage: Self.authMessage))
    }
}
