import CSodium

/// Argon2id as a key derivation (`crypto_pwhash` with `ALG_ARGON2ID13`): a key from a password and a salt, slow on
/// purpose, so a secret observed through what it derives cannot be guessed cheaply. (`PasswordHash` stores
/// passwords; this derives keys.)
public enum Argon2idKey {
    public static let saltLength = 16

    public static func derive(
        password: [UInt8], salt: [UInt8], length: Int = 32, cost: PasswordHash.Cost
    ) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("Argon2id salt", salt, saltLength)
        guard (16...64).contains(length) else { throw .invalidParameter("Argon2id output of \(length) bytes") }
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: length)
        let chars = password.map { CChar(bitPattern: $0) }
        let rc = crypto_pwhash(
            &out, UInt64(length), chars, UInt64(chars.count), salt, cost.operations, cost.memoryBytes,
            crypto_pwhash_ALG_ARGON2ID13)
        guard rc == 0 else { throw .passwordHashingFailed }
        return out
    }
}
