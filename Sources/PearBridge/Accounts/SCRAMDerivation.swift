import CryptoExtras
import IRCServer

extension SCRAMCredentials {
    /// Derives the credentials of `password` (UTF-8 as typed): PBKDF2-HMAC-SHA-256 from swift-crypto.
    static func derive(password: [UInt8], salt: [UInt8], iterations: Int = SCRAMCredentials.defaultIterations) throws -> SCRAMCredentials {
        let salted = try KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        return SCRAMCredentials(saltedPassword: salted.withUnsafeBytes { Array($0) }, salt: salt, iterations: iterations)
    }
}
