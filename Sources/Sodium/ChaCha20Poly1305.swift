import CSodium

/// IETF ChaCha20-Poly1305 AEAD (`crypto_aead_chacha20poly1305_ietf_*`): the cipher of Holepunch's Noise handshake.
public enum ChaCha20Poly1305: SodiumAEADCipher {
    public static let keyLength = 32
    public static let nonceLength = 12
    public static let tagLength = 16

    public static let aead = SodiumAEAD(
        name: "ChaCha20-Poly1305", nonceLength: nonceLength,
        encrypt: crypto_aead_chacha20poly1305_ietf_encrypt, decrypt: crypto_aead_chacha20poly1305_ietf_decrypt)
}
