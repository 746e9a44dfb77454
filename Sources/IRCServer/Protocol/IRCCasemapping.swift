/// How nicks and channel names are compared: the `CASEMAPPING` value advertised in `RPL_ISUPPORT`.
///
/// Matches the definitions in the modern IRC client protocol document (ircdocs) and IRCv3:
/// - `ascii`: only `A`–`Z` fold to `a`–`z`.
/// - `rfc1459`: also `[` `]` `\` `~` fold to `{` `}` `|` `^` (Scandinavian heritage of RFC 1459).
/// - `rfc1459-strict`: like `rfc1459` without `~` → `^`.
/// Bytes outside ASCII are compared exactly, so two names that differ only in non-ASCII case are distinct.
public enum IRCCasemapping: String, CaseIterable, Hashable, Sendable {
    case ascii = "ascii"
    case rfc1459 = "rfc1459"
    case rfc1459Strict = "rfc1459-strict"

    /// The `CASEMAPPING=` token value.
    public var token: String { rawValue }

    /// The lower-case form of one byte under this mapping.
    @inline(__always)
    public func fold(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return byte + 32
        case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\\"):
            return self == .ascii ? byte : byte + 32
        case UInt8(ascii: "~"):
            return self == .rfc1459 ? UInt8(ascii: "^") : byte
        default:
            return byte
        }
    }

    /// The case-folded form of `name`, used as the key for lookups (nick registry, channel table).
    public func fold(_ name: String) -> String {
        // Folding only ever maps ASCII to ASCII, so the result is valid UTF-8 whenever `name` is.
        String(decoding: name.utf8.map { fold($0) }, as: UTF8.self)
    }

    /// True when `a` and `b` name the same nick or channel under this mapping.
    public func equals(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8) { fold($0) == fold($1) }
    }
}
