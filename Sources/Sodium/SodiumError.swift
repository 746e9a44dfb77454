/// Every failure the libsodium wrapper reports. Bad input (wrong lengths, forged MACs, bad signatures) is always
/// one of these, never a trap.
public enum SodiumError: Error, Equatable, Sendable {
    /// A key, nonce, seed, header or signature had the wrong number of bytes.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// An output length or parameter was outside the range libsodium accepts.
    case invalidParameter(String)
    /// Authenticated decryption failed: the ciphertext, key or nonce is wrong or was tampered with.
    case authenticationFailed
    /// A scalar multiplication produced the identity element or the point was invalid / of small order.
    case invalidPoint
    /// A password hash could not be computed (usually: out of memory for the Argon2id parameters).
    case passwordHashingFailed
    /// libsodium returned an error from an operation that cannot fail on valid input.
    case operationFailed(String)

    public static func checkLength(_ what: String, _ bytes: some Collection, _ expected: Int) throws(SodiumError) {
        if bytes.count != expected {
            throw .invalidLength(what: what, expected: expected, actual: bytes.count)
        }
    }
}
