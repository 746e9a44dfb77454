import Crypto
import CryptoExtras
import Foundation

/// What a server keeps for SASL SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash) instead of the password:
/// `SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)`, `StoredKey = SHA-256(HMAC(SaltedPassword,
/// "Client Key"))`, `ServerKey = HMAC(SaltedPassword, "Server Key")`. Enough to check a client's proof and to prove
/// the server knows the password too; not enough to log in elsewhere.
public struct SCRAMCredentials: Hashable, Sendable {
    /// RFC 7677 asks for at least 4096; more costs each login (and an attacker with a stolen database) more.
    public static let defaultIterations = 15_000
    public static let saltLength = 16

    public let salt: [UInt8]
    public let iterations: Int
    public let storedKey: [UInt8]
    public let serverKey: [UInt8]

    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// The credentials from a salted password (`PBKDF2-HMAC-SHA-256(password, salt, iterations)`).
    public init(saltedPassword: [UInt8], salt: [UInt8], iterations: Int) {
        let key = SymmetricKey(data: saltedPassword)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: key))
        self.init(
            salt: salt, iterations: iterations, storedKey: Array(SHA256.hash(data: clientKey)),
            serverKey: Array(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: key)))
    }

    /// Derives the credentials of `password` (UTF-8 as typed): PBKDF2-HMAC-SHA-256 from swift-crypto.
    public static func derive(password: [UInt8], salt: [UInt8], iterations: Int = SCRAMCredentials.defaultIterations) throws -> SCRAMCredentials {
        let salted = try KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        return SCRAMCredentials(saltedPassword: salted.withUnsafeBytes { Array($0) }, salt: salt, iterations: iterations)
    }

    /// Whether a client's proof for `authMessage` shows it knows the password: `SHA-256(ClientProof XOR
    /// HMAC(StoredKey, AuthMessage)) == StoredKey`, compared in constant time.
    public func verify(clientProof: [UInt8], authMessage: [UInt8]) -> Bool {
        guard clientProof.count == storedKey.count else { return false }
        let signature = HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: storedKey))
        let clientKey = zip(clientProof, signature).map { $0 ^ $1 }
        let candidate = Array(SHA256.hash(data: clientKey))
        return zip(candidate, storedKey).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The server's signature for `authMessage` (the client checks it: the server knew the password too).
    public func serverSignature(authMessage: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: serverKey)))
    }
}
