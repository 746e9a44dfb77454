import CSodium

/// SHA-512 (`crypto_hash_sha512`); Noise's Ed25519 scalar derivation needs it.
public enum SHA512 {
    public static let outputLength = 64

    public static func hash(_ input: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(input)
        return bytes.withUnsafeBytes { hash($0) }
    }

    public static func hash(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: outputLength)
        _ = crypto_hash_sha512(&out, input.sodiumPointer, UInt64(input.count))
        return out
    }
}
