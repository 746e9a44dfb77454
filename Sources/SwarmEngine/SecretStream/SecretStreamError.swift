/// Why a secret-stream session ended. Every one of these should close the connection.
public enum SecretStreamError: Error, Equatable, Sendable {
    /// The Noise handshake failed (malformed, forged or out-of-turn message, invalid key).
    case handshakeFailed(NoiseError)
    /// The peer authenticated with a static key other than the one we expected.
    case unexpectedRemoteKey
    /// A frame declared more bytes than allowed at this point (65535 during the handshake, 56 for the header
    /// message, `maximumFrameLength` for data).
    case frameTooLarge(length: Int, limit: Int)
    /// The first message after the handshake was not a 56-byte header carrying the expected stream id.
    case invalidHeader
    /// A data frame failed authentication: tampered, truncated, replayed, duplicated or reordered (the secretstream
    /// state only advances on success, so these are indistinguishable and all fatal).
    case decryptionFailed
    /// A data frame shorter than the 17 bytes any encrypted message takes.
    case invalidFrame(length: Int)
    /// The transport ended in the middle of a frame.
    case truncatedFrame
    /// The transport ended before the handshake and header exchange finished.
    case endedDuringHandshake
    /// `send` before our keys exist.
    case notEstablished
    /// A message too large for one frame.
    case messageTooLarge(Int)
    /// The session already failed or ended.
    case closed
}
