/// Why a compact-encoded value could not be decoded. Decoding untrusted bytes reports one of these; it never traps.
public enum CompactEncodingError: Error, Equatable, Sendable {
    /// The input ended before the value did (the reference's "Out of bounds").
    case outOfBounds(needed: Int, remaining: Int)
    /// A declared length or element count is larger than the bytes that are left or than the caller's limit.
    case lengthTooLarge(declared: UInt64, limit: Int)
    /// The bytes are well framed but do not form a valid value (a bool other than 0/1, an unknown enum tag, …).
    case invalidValue(String)
    /// A number does not fit the Swift type it is decoded into.
    case valueOutOfRange(String)
    /// A whole-buffer decode finished with bytes left over.
    case trailingBytes(count: Int)
}
