/// secret-stream's framing: every message on the raw stream, handshake included, is `uint24le(length) ‖ body`
/// (`@hyperswarm/secret-stream` 6.9). Lengths are bounded by the caller before any body byte is buffered.
public enum SecretStreamFraming {
    /// The largest body a uint24 length can describe (16 MiB − 1).
    public static let maximumBodyLength = 0xff_ffff
    public static let prefixLength = 3

    /// `uint24le(body.count) ‖ body`; nil when the body does not fit a uint24 length.
    public static func frame(_ body: [UInt8]) -> [UInt8]? {
        guard body.count <= maximumBodyLength else { return nil }
        var framed: [UInt8] = []
        framed.reserveCapacity(body.count + prefixLength)
        framed.append(UInt8(truncatingIfNeeded: body.count))
        framed.append(UInt8(truncatingIfNeeded: body.count >> 8))
        framed.append(UInt8(truncatingIfNeeded: body.count >> 16))
        framed.append(contentsOf: body)
        return framed
    }
}

/// Splits received bytes into frames. Bytes may arrive in any chunking; a frame's length is checked against the
/// limit the caller gives as soon as its 3-byte prefix is complete, before its body is waited for.
struct SecretStreamFrameDecoder: Sendable {
    private(set) var buffer: [UInt8] = []
    /// Start of the first unconsumed byte. Frames are walked by index and the consumed prefix is dropped once per
    /// `append`, so a chunk holding many frames is not shifted once per frame.
    private var readIndex = 0

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if readIndex > 0 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The range in `buffer` of the next complete frame body, or nil when more bytes are needed.
    mutating func next(maximumLength: Int) throws(SecretStreamError) -> Range<Int>? {
        guard buffer.count - readIndex >= SecretStreamFraming.prefixLength else { return nil }
        let length = Int(buffer[readIndex]) | Int(buffer[readIndex + 1]) << 8 | Int(buffer[readIndex + 2]) << 16
        guard length <= maximumLength else { throw .frameTooLarge(length: length, limit: maximumLength) }
        let start = readIndex + SecretStreamFraming.prefixLength
        guard buffer.count - start >= length else { return nil }
        readIndex = start + length
        return start..<(start + length)
    }

    /// Whether part of a frame is waiting for more bytes.
    var hasPartialFrame: Bool { buffer.count > readIndex }

    mutating func reset() {
        buffer = []
        readIndex = 0
    }
}
