import CSodium

/// The tag carried by every `crypto_secretstream_xchacha20poly1305` message.
public enum SecretStreamTag: UInt8, Sendable {
    case message = 0
    case push = 1
    case rekey = 2
    case final = 3
}

/// Sizes of `crypto_secretstream_xchacha20poly1305`.
public enum SecretStreamParameters {
    public static let keyLength = 32
    public static let headerLength = 24
    /// Bytes added to every message (1 encrypted tag byte + 16-byte MAC).
    public static let overhead = 17
}

/// Holds a libsodium secretstream state in memory that is wiped when the owner goes away.
private final class SecretStreamState {
    let pointer: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

    init() {
        pointer = .allocate(capacity: 1)
    }

    deinit {
        sodium_memzero(pointer, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
        pointer.deallocate()
    }
}

/// The encrypting half of a `crypto_secretstream_xchacha20poly1305` stream.
public final class SecretStreamPush {
    private let state = SecretStreamState()
    /// The 24-byte header the receiver needs to start pulling.
    public let header: [UInt8]

    /// Starts a stream with a random header (`init_push`).
    public init(key: SecureBytes) throws(SodiumError) {
        try SodiumError.checkLength("secretstream key", 0..<key.count, SecretStreamParameters.keyLength)
        SodiumLibrary.ensureInitialised()
        var header = [UInt8](repeating: 0, count: SecretStreamParameters.headerLength)
        let state = self.state
        key.withPointer { k in
            _ = crypto_secretstream_xchacha20poly1305_init_push(state.pointer, &header, k)
        }
        self.header = header
    }

    /// Starts a stream with a given header. The pushed bytes are identical to what `init_push` would give had it
    /// drawn this header; tests use it to replay reference sessions, and nothing else should.
    public init(key: SecureBytes, header: [UInt8]) throws(SodiumError) {
        try SodiumError.checkLength("secretstream key", 0..<key.count, SecretStreamParameters.keyLength)
        try SodiumError.checkLength("secretstream header", header, SecretStreamParameters.headerLength)
        SodiumLibrary.ensureInitialised()
        // init_pull derives exactly the state init_push derives from (header, key); only the header's origin differs.
        let state = self.state
        key.withPointer { k in
            _ = crypto_secretstream_xchacha20poly1305_init_pull(state.pointer, header, k)
        }
        self.header = header
    }

    /// Encrypts one message; the result is `message.count + 17` bytes.
    public func push(_ message: [UInt8], tag: SecretStreamTag = .message, additionalData: [UInt8] = []) -> [UInt8] {
        message.withUnsafeBytes { push($0, tag: tag, additionalData: additionalData) }
    }

    public func push(
        _ message: UnsafeRawBufferPointer, tag: SecretStreamTag = .message, additionalData: [UInt8] = []
    ) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: message.count + SecretStreamParameters.overhead)
        _ = crypto_secretstream_xchacha20poly1305_push(
            state.pointer, &out, nil,
            message.sodiumPointer, UInt64(message.count),
            additionalData.isEmpty ? nil : additionalData, UInt64(additionalData.count), tag.rawValue)
        return out
    }
}

/// The decrypting half of a `crypto_secretstream_xchacha20poly1305` stream.
public final class SecretStreamPull {
    private let state = SecretStreamState()

    /// Starts pulling a stream from its 24-byte header.
    public init(key: SecureBytes, header: [UInt8]) throws(SodiumError) {
        try SodiumError.checkLength("secretstream key", 0..<key.count, SecretStreamParameters.keyLength)
        try SodiumError.checkLength("secretstream header", header, SecretStreamParameters.headerLength)
        SodiumLibrary.ensureInitialised()
        let rc = key.withPointer { k in
            crypto_secretstream_xchacha20poly1305_init_pull(
                state.pointer, header, k)
        }
        guard rc == 0 else { throw .operationFailed("secretstream init_pull") }
    }

    /// Decrypts and authenticates one message. A forged, truncated, replayed or reordered ciphertext throws
    /// `authenticationFailed` and leaves the stream state unchanged.
    public func pull(_ ciphertext: [UInt8], additionalData: [UInt8] = []) throws(SodiumError) -> (
        message: [UInt8], tag: SecretStreamTag
    ) {
        // withUnsafeBytes is untyped-rethrows; carry the typed error out through a Result.
        try ciphertext.withUnsafeBytes { c in
            Result { () throws(SodiumError) in try pull(c, additionalData: additionalData) }
        }.get()
    }

    public func pull(_ ciphertext: UnsafeRawBufferPointer, additionalData: [UInt8] = []) throws(SodiumError) -> (
        message: [UInt8], tag: SecretStreamTag
    ) {
        guard ciphertext.count >= SecretStreamParameters.overhead else { throw .authenticationFailed }
        var message = [UInt8](repeating: 0, count: ciphertext.count - SecretStreamParameters.overhead)
        var tag: UInt8 = 0
        let rc = crypto_secretstream_xchacha20poly1305_pull(
            state.pointer, &message, nil, &tag,
            ciphertext.sodiumPointer, UInt64(ciphertext.count),
            additionalData.isEmpty ? nil : additionalData, UInt64(additionalData.count))
        guard rc == 0, let parsedTag = SecretStreamTag(rawValue: tag) else { throw .authenticationFailed }
        return (message, parsedTag)
    }
}
