import CSodium

/// Ed25519 signatures and the Edwards-curve operations the Holepunch stack builds on.
///
/// Key pairs match libsodium's `crypto_sign_seed_keypair` exactly as `hypercore-crypto` uses it: the secret key is
/// `seed ‖ publicKey` (64 bytes).
public enum Ed25519 {
    public static let publicKeyLength = 32
    public static let secretKeyLength = 64
    public static let seedLength = 32
    public static let signatureLength = 64
    public static let scalarLength = 32

    /// An Ed25519 key pair. The secret half is wiped from memory when dropped.
    public struct KeyPair: Sendable {
        public let publicKey: [UInt8]
        public let secretKey: SecureBytes

        /// Rebuilds a key pair from a stored 64-byte secret key (`seed ‖ publicKey`), checking that the public
        /// half really belongs to the seed.
        public init(secretKey: [UInt8]) throws(SodiumError) {
            try SodiumError.checkLength("Ed25519 secret key", secretKey, Ed25519.secretKeyLength)
            let rebuilt = try Ed25519.keyPair(seed: Array(secretKey[0..<32]))
            guard ConstantTime.equals(rebuilt.publicKey, secretKey[32..<64]) else {
                throw .invalidParameter("Ed25519 secret key: public half does not match the seed")
            }
            self = rebuilt
        }

        init(publicKey: [UInt8], secretKey: SecureBytes) {
            self.publicKey = publicKey
            self.secretKey = secretKey
        }

        /// The 32-byte seed this key pair was derived from.
        public var seed: SecureBytes {
            secretKey.withPointer { all in SecureBytes(count: 32) { $0.update(from: all, count: 32) } }
        }
    }

    /// Deterministic key pair from a 32-byte seed (`crypto_sign_seed_keypair`).
    public static func keyPair(seed: [UInt8]) throws(SodiumError) -> KeyPair {
        try SodiumError.checkLength("Ed25519 seed", seed, seedLength)
        SodiumLibrary.ensureInitialised()
        var publicKey = [UInt8](repeating: 0, count: publicKeyLength)
        let secretKey = SecureBytes(count: secretKeyLength) { sk in
            _ = crypto_sign_seed_keypair(&publicKey, sk, seed)
        }
        return KeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    /// A fresh random key pair (`crypto_sign_keypair`).
    public static func randomKeyPair() -> KeyPair {
        SodiumLibrary.ensureInitialised()
        var publicKey = [UInt8](repeating: 0, count: publicKeyLength)
        let secretKey = SecureBytes(count: secretKeyLength) { sk in
            _ = crypto_sign_keypair(&publicKey, sk)
        }
        return KeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    /// Detached signature of `message` (`crypto_sign_detached`).
    public static func sign(_ message: [UInt8], secretKey: SecureBytes) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("Ed25519 secret key", 0..<secretKey.count, secretKeyLength)
        return sign(message: message, secretKey: secretKey)
    }

    /// Detached signature with a key pair, which is always well formed.
    public static func sign(_ message: [UInt8], keyPair: KeyPair) -> [UInt8] {
        sign(message: message, secretKey: keyPair.secretKey)
    }

    private static func sign(message: [UInt8], secretKey: SecureBytes) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: signatureLength)
        secretKey.withPointer { sk in
            _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count), sk)
        }
        return signature
    }

    /// `true` only for a valid signature by `publicKey`. Wrong lengths simply do not verify.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == signatureLength, publicKey.count == publicKeyLength else { return false }
        SodiumLibrary.ensureInitialised()
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }

    /// Multiplies an Edwards point by a scalar without clamping (`crypto_scalarmult_ed25519_noclamp`).
    /// Fails for small-order points and when the result is the identity.
    public static func scalarMultiplyNoClamp(scalar: SecureBytes, point: [UInt8]) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("Ed25519 scalar", 0..<scalar.count, scalarLength)
        try SodiumError.checkLength("Ed25519 point", point, publicKeyLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: publicKeyLength)
        let rc = scalar.withPointer { n in
            crypto_scalarmult_ed25519_noclamp(&out, n, point)
        }
        guard rc == 0 else { throw .invalidPoint }
        return out
    }

    /// The clamped Ed25519 secret scalar of a key pair: `clamp(SHA-512(seed)[0..<32])`. This is the scalar
    /// `noise-curve-ed` multiplies remote public keys with.
    public static func secretScalar(of keyPair: KeyPair) -> SecureBytes {
        var digest = keyPair.secretKey.withUnsafeBytes { sk in
            SHA512.hash(UnsafeRawBufferPointer(rebasing: sk[0..<seedLength]))
        }
        defer { ConstantTime.zero(&digest) }
        return SecureBytes(count: scalarLength) { out in
            for i in 0..<scalarLength { out[i] = digest[i] }
            out[0] &= 248
            out[31] &= 127
            out[31] |= 64
        }
    }

    /// Diffie-Hellman on Ed25519 keys exactly as Holepunch's `noise-curve-ed` does it:
    /// `crypto_scalarmult_ed25519_noclamp(clamp(SHA-512(seed)[0..<32]), remotePublicKey)`.
    public static func diffieHellman(keyPair: KeyPair, remotePublicKey: [UInt8]) throws(SodiumError) -> [UInt8] {
        try scalarMultiplyNoClamp(scalar: secretScalar(of: keyPair), point: remotePublicKey)
    }

    /// Converts an Ed25519 public key to its X25519 (Montgomery) form.
    public static func publicKeyToX25519(_ publicKey: [UInt8]) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("Ed25519 public key", publicKey, publicKeyLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: X25519.keyLength)
        guard crypto_sign_ed25519_pk_to_curve25519(&out, publicKey) == 0 else { throw .invalidPoint }
        return out
    }

    /// Converts an Ed25519 secret key to its X25519 secret scalar.
    public static func secretKeyToX25519(_ secretKey: SecureBytes) throws(SodiumError) -> SecureBytes {
        try SodiumError.checkLength("Ed25519 secret key", 0..<secretKey.count, secretKeyLength)
        return secretKey.withPointer { sk in
            SecureBytes(count: X25519.keyLength) { out in
                _ = crypto_sign_ed25519_sk_to_curve25519(
                    out, sk)
            }
        }
    }
}
