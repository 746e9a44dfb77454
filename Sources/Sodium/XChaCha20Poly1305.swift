import CSodium

/// XChaCha20-Poly1305-IETF AEAD (`crypto_aead_xchacha20poly1305_ietf_*`): a 24-byte nonce, large enough to draw at
/// random for every message under one key (what sealed direct-message and private-room blocks do, docs/protocol.md).
public enum XChaCha20Poly1305: SodiumAEADCipher {
    public static let keyLength = 32
    public static let nonceLength = 24
    public static let tagLength = 16

    public static let aead = SodiumAEAD(
        name: "XChaCha20-Poly1305", nonceLength: nonceLength,
        encrypt: crypto_aead_xchacha20poly1305_ietf_encrypt, decrypt: crypto_aead_xchacha20poly1305_ietf_decrypt)
}
