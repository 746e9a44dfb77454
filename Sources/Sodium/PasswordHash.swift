import CSodium

/// Argon2id password hashing in libsodium's self-describing string format (`crypto_pwhash_str_alg`).
/// Used for SASL PLAIN and operator passwords; never for key derivation.
public enum PasswordHash {
    /// Cost parameters. `interactive` is libsodium's recommendation for online logins.
    public struct Cost: Sendable, Equatable {
        public var operations: UInt64
        public var memoryBytes: Int

        public init(operations: UInt64, memoryBytes: Int) {
            self.operations = operations
            self.memoryBytes = memoryBytes
        }

        public static var interactive: Cost {
            Cost(
                operations: UInt64(crypto_pwhash_argon2id_opslimit_interactive()),
                memoryBytes: crypto_pwhash_argon2id_memlimit_interactive())
        }

        /// The smallest cost libsodium allows; only for tests.
        public static var minimum: Cost {
            Cost(
                operations: UInt64(crypto_pwhash_argon2id_opslimit_min()),
                memoryBytes: crypto_pwhash_argon2id_memlimit_min())
        }
    }

    /// Hashes `password` with a random salt into a `$argon2id$…` string.
    public static func hash(password: [UInt8], cost: Cost = .interactive) throws(SodiumError) -> String {
        SodiumLibrary.ensureInitialised()
        var out = [CChar](repeating: 0, count: crypto_pwhash_strbytes())
        var chars = password.map { CChar(bitPattern: $0) }
        defer { for i in chars.indices { chars[i] = 0 } }
        let rc = crypto_pwhash_str_alg(
            &out, chars, UInt64(chars.count), cost.operations, cost.memoryBytes, crypto_pwhash_ALG_ARGON2ID13)
        guard rc == 0 else { throw .passwordHashingFailed }
        let bytes = out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `true` when `password` matches `hash`. A malformed hash string simply does not verify.
    public static func verify(password: [UInt8], hash: String) -> Bool {
        SodiumLibrary.ensureInitialised()
        let hashBytes = Array(hash.utf8)
        guard hashBytes.count < crypto_pwhash_strbytes() else { return false }
        let cString = (hashBytes + [0]).map { CChar(bitPattern: $0) }
        let chars = password.map { CChar(bitPattern: $0) }
        return crypto_pwhash_str_verify(cString, chars, UInt64(chars.count)) == 0
    }

    /// `true` when `hash` was made with other parameters (or is not a valid Argon2id string) and should be
    /// recomputed at the next successful login.
    public static func needsRehash(_ hash: String, cost: Cost = .interactive) -> Bool {
        SodiumLibrary.ensureInitialised()
        let cString = (Array(hash.utf8) + [0]).map { CChar(bitPattern: $0) }
        return crypto_pwhash_str_needs_rehash(cString, cost.operations, cost.memoryBytes) != 0
    }
}
