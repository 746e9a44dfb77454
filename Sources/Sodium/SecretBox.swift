import CSodium

/// Symmetric authenticated encryption (`crypto_secretbox_easy`, XSalsa20-Poly1305).
public enum SecretBox {
    public static let keyLength = 32
    public static let nonceLength = 24
    public static let macLength = 16

    public static func seal(_ message: [UInt8], nonce: [UInt8], key: SecureBytes) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("secretbox nonce", nonce, nonceLength)
        try SodiumError.checkLength("secretbox key", 0..<key.count, keyLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: message.count + macLength)
        _ = key.withPointer { k in
            crypto_secretbox_easy(
                &out, message, UInt64(message.count), nonce, k)
        }
        return out
    }

    public static func open(_ ciphertext: [UInt8], nonce: [UInt8], key: SecureBytes) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("secretbox nonce", nonce, nonceLength)
        try SodiumError.checkLength("secretbox key", 0..<key.count, keyLength)
        guard ciphertext.count >= macLength else { throw .authenticationFailed }
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: ciphertext.count - macLength)
        let rc = key.withPointer { k in
            crypto_secretbox_open_easy(
                &out, ciphertext, UInt64(ciphertext.count), nonce, k)
        }
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }
}
