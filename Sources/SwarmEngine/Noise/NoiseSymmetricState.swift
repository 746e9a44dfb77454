import Sodium

/// Noise's SymmetricState and CipherState with Holepunch's choices (`noise-handshake` 4.x): BLAKE2b-512 as the hash
/// (HMAC block size 128), IETF ChaCha20-Poly1305 with nonce `00000000 ‖ u32le(n) ‖ 00000000`.
struct NoiseSymmetricState: Sendable {
    static let hashLength = 64

    private(set) var chainingKey: [UInt8]
    private(set) var hash: [UInt8]
    private var key: [UInt8]?
    private var nonce: UInt32 = 0

    init(protocolName: String) {
        // Names are at most 64 bytes, so h is the name zero-padded (not hashed).
        var initial = Array(protocolName.utf8)
        initial += [UInt8](repeating: 0, count: max(0, Self.hashLength - initial.count))
        hash = initial
        chainingKey = initial
    }

    var hasKey: Bool { key != nil }

    mutating func mixHash(_ data: [UInt8]) {
        hash = Self.blake2b512(hash + data)
    }

    mutating func mixKey(_ input: [UInt8]) {
        let (next, temporary) = Self.hkdf(chainingKey: chainingKey, input: input)
        chainingKey = next
        key = Array(temporary.prefix(32))
        nonce = 0
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try encrypt(plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try decrypt(ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// The two transport keys: the initiator sends with the first.
    func split() -> (first: [UInt8], second: [UInt8]) {
        let (first, second) = Self.hkdf(chainingKey: chainingKey, input: [])
        return (Array(first.prefix(32)), Array(second.prefix(32)))
    }

    private mutating func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        defer { nonce &+= 1 }
        do {
            return try ChaCha20Poly1305.seal(plaintext, key: key, nonce: Self.nonceBytes(nonce), associatedData: hash)
        } catch {
            throw .cryptoFailure
        }
    }

    private mutating func decrypt(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        defer { nonce &+= 1 }
        do {
            return try ChaCha20Poly1305.open(ciphertext, key: key, nonce: Self.nonceBytes(nonce), associatedData: hash)
        } catch {
            throw .decryptionFailed
        }
    }

    static func nonceBytes(_ counter: UInt32) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: counter.littleEndian) { nonce.replaceSubrange(4..<8, with: $0) }
        return nonce
    }

    static func blake2b512(_ data: [UInt8]) -> [UInt8] {
        // 64 is always a valid BLAKE2b output length.
        (try? BLAKE2b.hash(data, outputLength: 64)) ?? []
    }

    /// HMAC-BLAKE2b-512 (RFC 2104, block size 128).
    static func hmac(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var block = key.count > 128 ? blake2b512(key) : key
        block += [UInt8](repeating: 0, count: 128 - block.count)
        let inner = blake2b512(block.map { $0 ^ 0x36 } + data)
        return blake2b512(block.map { $0 ^ 0x5c } + inner)
    }

    /// HKDF with two 64-byte outputs (the only form Noise uses here).
    static func hkdf(chainingKey: [UInt8], input: [UInt8]) -> ([UInt8], [UInt8]) {
        let prk = hmac(key: chainingKey, data: input)
        let first = hmac(key: prk, data: [1])
        let second = hmac(key: prk, data: first + [2])
        return (first, second)
    }
}

/// Why a Noise handshake failed.
public enum NoiseError: Error, Equatable, Sendable {
    /// A message ended before its tokens did.
    case messageTooShort
    /// A message longer than Noise's 65535 bytes.
    case messageTooLong(Int)
    /// The handshake already failed; it cannot continue.
    case failed
    /// A message arrived (or was asked for) out of turn.
    case outOfOrder
    /// An encrypted part failed authentication: wrong keys, tampering, or the wrong peer.
    case decryptionFailed
    /// A DH with the remote key failed (invalid or small-order point).
    case invalidRemoteKey
    /// The handshake was configured incompletely (e.g. IK without the responder's static key).
    case misconfigured(String)
    case cryptoFailure
}
