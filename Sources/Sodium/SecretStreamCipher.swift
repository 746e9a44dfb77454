import CSodium

/// Copy-on-write storage for one `crypto_secretstream_xchacha20poly1305_state`, wiped when released.
///
/// `@unchecked Sendable`: the state is written only through `SecretStreamSender`/`SecretStreamReceiver`, which
/// clone the box first unless they hold the only reference (`isKnownUniquelyReferenced`). A shared box is therefore
/// never written, and each concurrency domain that mutates owns its own box — the discipline `Array` follows.
final class SecretStreamStateBox: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

    init() {
        pointer = .allocate(capacity: 1)
        sodium_memzero(pointer, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
    }

    /// A state set up by `init_pull` from a key and a 24-byte header. The receiver starts this way, and a sender
    /// given its header too: init_pull derives from (header, key) exactly the state init_push derives.
    static func pulling(key: SecureBytes, header: [UInt8]) throws(SodiumError) -> SecretStreamStateBox {
        try SodiumError.checkLength("secretstream key", 0..<key.count, SecretStreamParameters.keyLength)
        try SodiumError.checkLength("secretstream header", header, SecretStreamParameters.headerLength)
        SodiumLibrary.ensureInitialised()
        let box = SecretStreamStateBox()
        let state = box.pointer
        let rc = key.withPointer { k in crypto_secretstream_xchacha20poly1305_init_pull(state, header, k) }
        guard rc == 0 else { throw .operationFailed("secretstream init_pull") }
        return box
    }

    func clone() -> SecretStreamStateBox {
        let copy = SecretStreamStateBox()
        copy.pointer.update(from: pointer, count: 1)
        return copy
    }

    deinit {
        sodium_memzero(pointer, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
        pointer.deallocate()
    }
}

/// The encrypting half of a `crypto_secretstream_xchacha20poly1305` stream as a value: a copy continues
/// independently from where the original was, so a protocol state machine holding it stays a plain value.
public struct SecretStreamSender: Sendable {
    private var box: SecretStreamStateBox
    /// The 24-byte header the receiver needs to start pulling.
    public let header: [UInt8]

    /// Starts a stream with a random header (`init_push`).
    public init(key: SecureBytes) throws(SodiumError) {
        try SodiumError.checkLength("secretstream key", 0..<key.count, SecretStreamParameters.keyLength)
        SodiumLibrary.ensureInitialised()
        var header = [UInt8](repeating: 0, count: SecretStreamParameters.headerLength)
        let box = SecretStreamStateBox()
        let state = box.pointer
        key.withPointer { k in _ = crypto_secretstream_xchacha20poly1305_init_push(state, &header, k) }
        self.box = box
        self.header = header
    }

    /// Starts a stream with a given header, giving exactly the bytes `init_push` would had it drawn this header.
    /// For replaying reference sessions in tests; a real stream must use a random header.
    public init(key: SecureBytes, header: [UInt8]) throws(SodiumError) {
        box = try .pulling(key: key, header: header)
        self.header = header
    }

    /// Encrypts one message; the result is `message.count + 17` bytes.
    public mutating func push(_ message: [UInt8], tag: SecretStreamTag = .message, additionalData: [UInt8] = []) -> [UInt8] {
        message.withUnsafeBytes { push($0, tag: tag, additionalData: additionalData) }
    }

    public mutating func push(
        _ message: UnsafeRawBufferPointer, tag: SecretStreamTag = .message, additionalData: [UInt8] = []
    ) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: message.count + SecretStreamParameters.overhead) { out, count in
            count = push(message, into: UnsafeMutableRawBufferPointer(out), tag: tag, additionalData: additionalData)
        }
    }

    /// Encrypts one message into `out` (so a caller can put a frame header in front without another copy).
    /// Returns the bytes written, `message.count + 17`, or 0 when `out` is too small (nothing is written then).
    public mutating func push(
        _ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, tag: SecretStreamTag = .message,
        additionalData: [UInt8] = []
    ) -> Int {
        let length = message.count + SecretStreamParameters.overhead
        guard out.count >= length, let base = out.baseAddress else { return 0 }
        if !isKnownUniquelyReferenced(&box) { box = box.clone() }
        _ = crypto_secretstream_xchacha20poly1305_push(
            box.pointer, base.assumingMemoryBound(to: UInt8.self), nil, message.sodiumPointer, UInt64(message.count),
            additionalData.isEmpty ? nil : additionalData, UInt64(additionalData.count), tag.rawValue)
        return length
    }
}

/// The decrypting half of a `crypto_secretstream_xchacha20poly1305` stream as a value (see `SecretStreamSender`).
public struct SecretStreamReceiver: Sendable {
    private var box: SecretStreamStateBox

    /// Starts pulling a stream from its 24-byte header.
    public init(key: SecureBytes, header: [UInt8]) throws(SodiumError) {
        box = try .pulling(key: key, header: header)
    }

    /// Decrypts and authenticates one message. A forged, truncated, replayed or reordered ciphertext throws
    /// `authenticationFailed` and leaves the state as it was (libsodium only advances it on success).
    public mutating func pull(_ ciphertext: UnsafeRawBufferPointer, additionalData: [UInt8] = []) throws(SodiumError) -> (
        message: [UInt8], tag: SecretStreamTag
    ) {
        guard ciphertext.count >= SecretStreamParameters.overhead else { throw .authenticationFailed }
        if !isKnownUniquelyReferenced(&box) { box = box.clone() }
        var message = [UInt8](repeating: 0, count: ciphertext.count - SecretStreamParameters.overhead)
        var tag: UInt8 = 0
        let rc = crypto_secretstream_xchacha20poly1305_pull(
            box.pointer, &message, nil, &tag, ciphertext.sodiumPointer, UInt64(ciphertext.count),
            additionalData.isEmpty ? nil : additionalData, UInt64(additionalData.count))
        guard rc == 0, let parsedTag = SecretStreamTag(rawValue: tag) else {
            sodium_memzero(&message, message.count)
            throw .authenticationFailed
        }
        return (message, parsedTag)
    }

    public mutating func pull(_ ciphertext: [UInt8], additionalData: [UInt8] = []) throws(SodiumError) -> (
        message: [UInt8], tag: SecretStreamTag
    ) {
        // withUnsafeBytes is untyped-rethrows; carry the typed error out through a Result.
        try ciphertext.withUnsafeBytes { c in
            Result { () throws(SodiumError) in try pull(c, additionalData: additionalData) }
        }.get()
    }
}
