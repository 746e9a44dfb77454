import CSodium

/// X25519 (Curve25519 Montgomery) key agreement and the box key pairs built on it.
public enum X25519 {
    public static let keyLength = 32

    /// An X25519 key pair as used by `crypto_box`.
    public struct KeyPair: Sendable {
        public let publicKey: [UInt8]
        public let secretKey: SecureBytes
    }

    /// `crypto_box_seed_keypair`: what `hypercore-crypto`'s `encryptionKeyPair(seed)` returns.
    public static func keyPair(seed: [UInt8]) throws(SodiumError) -> KeyPair {
        try SodiumError.checkLength("X25519 seed", seed, 32)
        SodiumLibrary.ensureInitialised()
        var publicKey = [UInt8](repeating: 0, count: keyLength)
        let secretKey = SecureBytes(count: keyLength) { sk in
            _ = crypto_box_seed_keypair(&publicKey, sk, seed)
        }
        return KeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    /// A random key pair (`crypto_box_keypair`).
    public static func randomKeyPair() -> KeyPair {
        SodiumLibrary.ensureInitialised()
        var publicKey = [UInt8](repeating: 0, count: keyLength)
        let secretKey = SecureBytes(count: keyLength) { sk in
            _ = crypto_box_keypair(&publicKey, sk)
        }
        return KeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    /// `crypto_scalarmult`: the shared point of a secret scalar and a public key. Fails on low-order points.
    public static func scalarMultiply(secretKey: SecureBytes, publicKey: [UInt8]) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("X25519 secret key", 0..<secretKey.count, keyLength)
        try SodiumError.checkLength("X25519 public key", publicKey, keyLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: keyLength)
        let rc = secretKey.withPointer { n in
            crypto_scalarmult(&out, n, publicKey)
        }
        guard rc == 0 else { throw .invalidPoint }
        return out
    }

    /// `crypto_scalarmult_base`: the public key of a secret scalar.
    public static func publicKey(secretKey: SecureBytes) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("X25519 secret key", 0..<secretKey.count, keyLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: keyLength)
        _ = secretKey.withPointer { n in
            crypto_scalarmult_base(&out, n)
        }
        return out
    }
}
