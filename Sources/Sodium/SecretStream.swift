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
