import CSodium

/// What libsodium's two IETF AEADs (ChaCha20-Poly1305 and XChaCha20-Poly1305) share: the same call shape, a 32-byte
/// key and a 16-byte tag; only the functions and the nonce length differ.
public struct SodiumAEAD: Sendable {
    /// `(c, clen, m, mlen, ad, adlen, nsec, npub, k)` as sodium.h declares the two ciphers' encrypt.
    typealias Encrypt = @Sendable (
        UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt64>?, UnsafePointer<UInt8>?, UInt64, UnsafePointer<UInt8>?,
        UInt64, UnsafePointer<UInt8>?, UnsafePointer<UInt8>, UnsafePointer<UInt8>
    ) -> Int32
    /// `(m, mlen, nsec, c, clen, ad, adlen, npub, k)`.
    typealias Decrypt = @Sendable (
        UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt8>?, UnsafePointer<UInt8>,
        UInt64, UnsafePointer<UInt8>?, UInt64, UnsafePointer<UInt8>, UnsafePointer<UInt8>
    ) -> Int32

    static let keyLength = 32
    static let tagLength = 16

    let name: String
    let nonceLength: Int
    let encrypt: Encrypt
    let decrypt: Decrypt

    func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("\(name) key", key, Self.keyLength)
        try SodiumError.checkLength("\(name) nonce", nonce, nonceLength)
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: plaintext.count + Self.tagLength)
        var written: UInt64 = 0
        _ = encrypt(&out, &written, plaintext, UInt64(plaintext.count), associatedData, UInt64(associatedData.count), nil, nonce, key)
        return out
    }

    func open(_ ciphertext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("\(name) key", key, Self.keyLength)
        try SodiumError.checkLength("\(name) nonce", nonce, nonceLength)
        guard ciphertext.count >= Self.tagLength else { throw .authenticationFailed }
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: ciphertext.count - Self.tagLength)
        var written: UInt64 = 0
        let rc = decrypt(&out, &written, nil, ciphertext, UInt64(ciphertext.count), associatedData, UInt64(associatedData.count), nonce, key)
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }
}

/// A libsodium IETF AEAD as a type: `seal` and `open` with its key and nonce lengths.
public protocol SodiumAEADCipher {
    static var aead: SodiumAEAD { get }
}

extension SodiumAEADCipher {
    public static func seal(
        _ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]
    ) throws(SodiumError) -> [UInt8] {
        try aead.seal(plaintext, key: key, nonce: nonce, associatedData: associatedData)
    }

    public static func open(
        _ ciphertext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]
    ) throws(SodiumError) -> [UInt8] {
        try aead.open(ciphertext, key: key, nonce: nonce, associatedData: associatedData)
    }
}
