/// The command of an IRC message: a verb of ASCII letters (`PRIVMSG`) or a three-digit numeric reply (`001`).
///
/// RFC 2812 §2.3.1: `command = 1*letter / 3digit`. The parser upper-cases verbs (commands are case-insensitive, and
/// servers dispatch on one spelling); the encoder writes a verb exactly as stored and a numeric as three digits.
public enum IRCCommand: Hashable, Sendable {
    /// A verb made of ASCII letters, e.g. `PRIVMSG`, `CAP`.
    case verb(String)
    /// A numeric reply code in `0...999`, written zero-padded to three digits.
    case numeric(UInt16)

    /// The numeric reply `numeric` as a command.
    public init(_ numeric: IRCNumeric) {
        self = .numeric(numeric.code)
    }

    /// The command as written on the wire (`PRIVMSG`, `005`). For an out-of-range numeric this is its decimal text;
    /// the encoder refuses such a command.
    public var text: String {
        switch self {
        case .verb(let verb):
            return verb
        case .numeric(let code):
            let digits = String(code)
            return digits.count >= 3 ? digits : String(repeating: "0", count: 3 - digits.count) + digits
        }
    }

    /// True when this is the verb `verb`, compared ASCII case-insensitively.
    public func isVerb(_ verb: String) -> Bool {
        guard case .verb(let own) = self else { return false }
        return own.utf8.elementsEqual(verb.utf8) { asciiUppercased($0) == asciiUppercased($1) }
    }
}

extension IRCCommand: CustomStringConvertible {
    public var description: String { text }
}

@inline(__always)
func asciiUppercased(_ byte: UInt8) -> UInt8 {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) ? byte - 32 : byte
}

@inline(__always)
func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
}

@inline(__always)
func isASCIIDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}
