import CSodium

/// IETF ChaCha20-Poly1305 AEAD (`crypto_aead_chacha20poly1305_ietf_*`): the cipher of Holepunch's Noise handshake.
public enum ChaCha20Poly1305 {
    public static let keyLength = 32
    public static let nonceLength = 12
    public static let tagLength = 16

    public static func seal(
        _ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]
    ) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("ChaCha20-Poly1305 key", key, keyLength)
        try SodiumError.checkLength("ChaCha20-Poly1305 nonce", nonce, nonceLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var written: UInt64 = 0
        _ = crypto_aead_chacha20poly1305_ietf_encrypt(
            &out, &written, plaintext, UInt64(plaintext.count), associatedData, UInt64(associatedData.count), nil,
            nonce, key)
        return out
    }

    public static func open(
        _ ciphertext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]
    ) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("ChaCha20-Poly1305 key", key, keyLength)
        try SodiumError.checkLength("ChaCha20-Poly1305 nonce", nonce, nonceLength)
        guard ciphertext.count >= tagLength else { throw .authenticationFailed }
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: ciphertext.count - tagLength)
        var written: UInt64 = 0
        let rc = crypto_aead_chacha20poly1305_ietf_decrypt(
            &out, &written, nil, ciphertext, UInt64(ciphertext.count), associatedData, UInt64(associatedData.count),
            nonce, key)
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }
}
