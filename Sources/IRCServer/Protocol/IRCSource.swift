/// The source (prefix) of an IRC message: `nick!user@host`, or a server name.
///
/// Split as in `ircdocs/parser-tests` (`userhost-split.yaml`): `nick` runs to the first `!` or `@`; `user` follows a
/// `!` that comes before any `@`; `host` is everything after the first `@`. A server name (`irc.example.com`) has no
/// `!` or `@` and so lands entirely in `nick`; `isServerName` tells the two apart by the customary `.` test.
public struct IRCSource: Hashable, Sendable {
    /// The nickname, or the whole server name for a server source.
    public var nick: String
    /// The user (ident) part, after `!`.
    public var user: String?
    /// The host part, after `@`.
    public var host: String?

    public init(nick: String, user: String? = nil, host: String? = nil) {
        self.nick = nick
        self.user = user
        self.host = host
    }

    /// Splits `text` (without the leading `:`) into nick, user and host. Never fails.
    public init(parsing text: Substring) {
        let utf8 = text.utf8
        let at = utf8.firstIndex(of: UInt8(ascii: "@"))
        let beforeAt = text[..<(at ?? text.endIndex)]
        if let bang = beforeAt.utf8.firstIndex(of: UInt8(ascii: "!")) {
            nick = String(text[..<bang])
            user = String(text[text.index(after: bang)..<(at ?? text.endIndex)])
        } else {
            nick = String(beforeAt)
            user = nil
        }
        host = at.map { String(text[text.index(after: $0)...]) }
    }

    /// Splits `text` (without the leading `:`) into nick, user and host. Never fails.
    public init(parsing text: String) {
        self.init(parsing: text[...])
    }

    /// True for a bare name containing a `.` (a server name such as `irc.example.com`); nicknames cannot contain `.`.
    public var isServerName: Bool {
        user == nil && host == nil && nick.utf8.contains(UInt8(ascii: "."))
    }

    /// The source as written after the `:` on the wire.
    public var text: String {
        var result = nick
        if let user { result += "!" + user }
        if let host { result += "@" + host }
        return result
    }
}

extension IRCSource: CustomStringConvertible {
    public var description: String { text }
}
