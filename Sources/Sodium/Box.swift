import CSodium

/// Public-key authenticated encryption (`crypto_box_easy`) and anonymous sealed boxes (`crypto_box_seal`).
public enum Box {
    public static let nonceLength = 24
    public static let macLength = 16
    public static let sealOverhead = 48

    public static func seal(
        _ message: [UInt8], nonce: [UInt8], recipientPublicKey: [UInt8], senderSecretKey: SecureBytes
    ) throws(SodiumError) -> [UInt8] {
        try checkKeys(nonce: nonce, publicKey: recipientPublicKey, secretKey: senderSecretKey)
        var out = [UInt8](repeating: 0, count: message.count + macLength)
        let rc = senderSecretKey.withPointer { sk in
            crypto_box_easy(
                &out, message, UInt64(message.count), nonce, recipientPublicKey,
                sk)
        }
        guard rc == 0 else { throw .invalidPoint }
        return out
    }

    public static func open(
        _ ciphertext: [UInt8], nonce: [UInt8], senderPublicKey: [UInt8], recipientSecretKey: SecureBytes
    ) throws(SodiumError) -> [UInt8] {
        try checkKeys(nonce: nonce, publicKey: senderPublicKey, secretKey: recipientSecretKey)
        guard ciphertext.count >= macLength else { throw .authenticationFailed }
        var out = [UInt8](repeating: 0, count: ciphertext.count - macLength)
        let rc = recipientSecretKey.withPointer { sk in
            crypto_box_open_easy(
                &out, ciphertext, UInt64(ciphertext.count), nonce, senderPublicKey,
                sk)
        }
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }

    /// Anonymous encryption to `recipientPublicKey` (ephemeral sender key, `crypto_box_seal`).
    public static func sealAnonymously(_ message: [UInt8], recipientPublicKey: [UInt8]) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("X25519 public key", recipientPublicKey, X25519.keyLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: message.count + sealOverhead)
        guard crypto_box_seal(&out, message, UInt64(message.count), recipientPublicKey) == 0 else {
            throw .invalidPoint
        }
        return out
    }

    /// Opens a sealed box addressed to `keyPair`.
    public static func openSealed(_ ciphertext: [UInt8], keyPair: X25519.KeyPair) throws(SodiumError) -> [UInt8] {
        guard ciphertext.count >= sealOverhead else { throw .authenticationFailed }
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: ciphertext.count - sealOverhead)
        let rc = keyPair.secretKey.withPointer { sk in
            crypto_box_seal_open(
                &out, ciphertext, UInt64(ciphertext.count), keyPair.publicKey,
                sk)
        }
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }

    private static func checkKeys(nonce: [UInt8], publicKey: [UInt8], secretKey: SecureBytes) throws(SodiumError) {
        try SodiumError.checkLength("box nonce", nonce, nonceLength)
        try SodiumError.checkLength("X25519 public key", publicKey, X25519.keyLength)
        try SodiumError.checkLength("X25519 secret key", 0..<secretKey.count, X25519.keyLength)
        SodiumLibrary.ensureInitialised()
    }
}
