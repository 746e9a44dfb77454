/// Validation of nicknames and channel names, with the limits we advertise in `RPL_ISUPPORT`.
///
/// Nicks follow RFC 2812 §2.3.1 as servers apply it today: ASCII letters, digits and the specials
/// `[ ] \ ` _ ^ { | }` plus `-`; not starting with a digit or `-`; at most `nickLength` bytes (`NICKLEN`, default 30,
/// RFC 2812's 9 being long obsolete). Channel names start with one of `channelTypes` (`#` and `&`), have at least one
/// character after it, contain no space, comma or control character (C0 or DEL), and are at most `channelLength` bytes including
/// the prefix (`CHANNELLEN`, default 64). Non-ASCII is allowed in channel names (they are UTF-8 text) but not in nicks.
public struct IRCNameValidation: Hashable, Sendable {
    /// Why a nick was refused (answer with `ERR_ERRONEUSNICKNAME`).
    public enum NickError: Error, Hashable, Sendable {
        case empty
        case tooLong(length: Int, limit: Int)
        /// The first character is a digit or `-`.
        case invalidFirstCharacter
        /// A byte that is not a letter, digit, special or `-`.
        case invalidCharacter(UInt8)
    }

    /// Why a channel name was refused (answer with `ERR_BADCHANMASK` / `ERR_NOSUCHCHANNEL`).
    public enum ChannelError: Error, Hashable, Sendable {
        case empty
        /// The name does not start with one of `channelTypes`.
        case missingPrefix
        /// Only the prefix, nothing after it.
        case tooShort
        case tooLong(length: Int, limit: Int)
        /// Space, comma or a control character.
        case invalidCharacter(UInt8)
    }

    /// `NICKLEN`.
    public var nickLength: Int
    /// `CHANNELLEN`.
    public var channelLength: Int
    /// `CHANTYPES`: the bytes that may start a channel name.
    public var channelTypes: [UInt8]

    public init(nickLength: Int = 30, channelLength: Int = 64, channelTypes: String = "#&") {
        self.nickLength = nickLength
        self.channelLength = channelLength
        self.channelTypes = Array(channelTypes.utf8)
    }

    /// The `CHANTYPES` token value.
    public var channelTypesToken: String { String(decoding: channelTypes, as: UTF8.self) }

    /// Checks `nick`, throwing why it is not acceptable.
    public func validateNick(_ nick: String) throws(NickError) {
        let bytes = nick.utf8
        guard let first = bytes.first else { throw .empty }
        guard bytes.count <= nickLength else { throw .tooLong(length: bytes.count, limit: nickLength) }
        guard isASCIILetter(first) || Self.isNickSpecial(first) else {
            if isASCIIDigit(first) || first == UInt8(ascii: "-") { throw .invalidFirstCharacter }
            throw .invalidCharacter(first)
        }
        for byte in bytes.dropFirst() {
            let allowed = isASCIILetter(byte) || isASCIIDigit(byte) || Self.isNickSpecial(byte)
            guard allowed || byte == UInt8(ascii: "-") else { throw .invalidCharacter(byte) }
        }
    }

    /// True when `nick` is acceptable.
    public func isValidNick(_ nick: String) -> Bool {
        do { try validateNick(nick); return true } catch { return false }
    }

    /// Checks `name`, throwing why it is not an acceptable channel name.
    public func validateChannel(_ name: String) throws(ChannelError) {
        let bytes = name.utf8
        guard let first = bytes.first else { throw .empty }
        guard channelTypes.contains(first) else { throw .missingPrefix }
        guard bytes.count >= 2 else { throw .tooShort }
        guard bytes.count <= channelLength else { throw .tooLong(length: bytes.count, limit: channelLength) }
        for byte in bytes {
            switch byte {
            // Every control character, not only RFC 1459's NUL, BEL, CR and LF: ESC or 0x01 in a name reaches other
            // clients as terminal escapes or CTCP.
            case 0x00...0x1F, 0x7F, UInt8(ascii: " "), UInt8(ascii: ","):
                throw .invalidCharacter(byte)
            default:
                continue
            }
        }
    }

    /// True when `name` is an acceptable channel name.
    public func isValidChannel(_ name: String) -> Bool {
        do { try validateChannel(name); return true } catch { return false }
    }

    /// True when `target` starts with a channel type (so it names a channel rather than a nick).
    public func looksLikeChannel(_ target: String) -> Bool {
        target.utf8.first.map(channelTypes.contains) ?? false
    }

    /// RFC 2812 `special`: `[ ] \ ` _ ^ { | }`.
    static func isNickSpecial(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\\"), UInt8(ascii: "`"), UInt8(ascii: "_"),
            UInt8(ascii: "^"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"):
            return true
        default:
            return false
        }
    }
}
