/// The `RPL_ISUPPORT` (005) tokens a server advertises, and their split into lines.
///
/// Matches the modern IRC client protocol document's "Feature Advertisement" section: tokens are `NAME`,
/// `NAME=value` or `-NAME` (withdrawn); names are upper-case letters and digits; in values a space, `\` and `=` are
/// written `\x20`, `\x5C`, `\x3D` (we also hex-escape every other control byte so nothing can break the line).
/// Each line is `:server 005 nick TOKEN… :are supported by this server`, with at most 13 tokens (so 15 params) and
/// no more bytes than the line limit allows.
public struct ISupport: Hashable, Sendable {
    /// One advertised token.
    public struct Token: Hashable, Sendable {
        public var name: String
        /// `nil` for a bare token (`UTF8ONLY`), else the unescaped value (may be empty: `NAME=`).
        public var value: String?
        /// `-NAME`: the token is withdrawn (sent to registered clients when a feature goes away).
        public var isNegated: Bool

        /// The token as written in a 005 line, value escaped.
        public var text: String {
            if isNegated { return "-" + name }
            guard let value else { return name }
            return name + "=" + ISupport.escapeValue(value)
        }
    }

    /// Why a token cannot be advertised.
    public enum Failure: Error, Hashable, Sendable {
        /// The name is empty or not upper-case ASCII letters and digits.
        case invalidName(String)
        /// The token does not fit in one line on its own.
        case tokenTooLong(String)
    }

    /// The tokens in the order they are sent.
    public private(set) var tokens: [Token] = []

    public init() {}

    /// The value of `name` (`.some(nil)` for a bare token), or `nil` if not set.
    public subscript(name: String) -> String?? {
        tokens.first { $0.name == name && !$0.isNegated }.map(\.value)
    }

    /// Sets `name` (replacing an earlier value in place) to `value`, or to a bare token when `value` is `nil`.
    public mutating func set(_ name: String, _ value: String? = nil) throws(Failure) {
        guard Self.isValidName(name) else { throw .invalidName(name) }
        put(Token(name: name, value: value, isNegated: false))
    }

    /// Adds `-name`, withdrawing a token.
    public mutating func negate(_ name: String) throws(Failure) {
        guard Self.isValidName(name) else { throw .invalidName(name) }
        put(Token(name: name, value: nil, isNegated: true))
    }

    private mutating func put(_ name: String, _ value: String?) {
        put(Token(name: name, value: value, isNegated: false))
    }

    private mutating func put(_ token: Token) {
        if let index = tokens.firstIndex(where: { $0.name == token.name }) {
            tokens[index] = token
        } else {
            tokens.append(token)
        }
    }

    // Typed setters for the tokens issue 5 needs. Their names are constants, so they cannot fail.

    public mutating func casemapping(_ mapping: IRCCasemapping) { put("CASEMAPPING", mapping.token) }
    /// `CHANTYPES=#&`.
    public mutating func chanTypes(_ types: String) { put("CHANTYPES", types) }
    /// `CHANMODES=A,B,C,D`: list modes, modes that always take a param, modes with a param only when set, flags.
    public mutating func chanModes(list: String, alwaysParam: String, setParam: String, flags: String) {
        put("CHANMODES", [list, alwaysParam, setParam, flags].joined(separator: ","))
    }
    /// `PREFIX=(ov)@+`: membership modes and their prefixes, highest first.
    public mutating func prefix(modes: String, symbols: String) {
        put("PREFIX", "(\(modes))\(symbols)")
    }
    public mutating func nickLen(_ length: Int) { put("NICKLEN", String(length)) }
    public mutating func channelLen(_ length: Int) { put("CHANNELLEN", String(length)) }
    public mutating func topicLen(_ length: Int) { put("TOPICLEN", String(length)) }
    public mutating func kickLen(_ length: Int) { put("KICKLEN", String(length)) }
    public mutating func awayLen(_ length: Int) { put("AWAYLEN", String(length)) }
    /// `LINELEN=512`: the line length (CR LF included) the server accepts, for clients that split long messages.
    public mutating func lineLen(_ length: Int) { put("LINELEN", String(length)) }
    /// `MONITOR` or `MONITOR=limit` (IRCv3 monitor).
    public mutating func monitor(limit: Int?) { put("MONITOR", limit.map(String.init)) }
    /// `CHATHISTORY=limit`: the most messages one CHATHISTORY request returns (IRCv3 chathistory).
    public mutating func chatHistory(limit: Int) { put("CHATHISTORY", String(limit)) }
    /// `MSGREFTYPES=msgid,timestamp`: message reference kinds CHATHISTORY accepts, preferred first.
    public mutating func msgRefTypes(_ types: [String]) {
        put("MSGREFTYPES", types.joined(separator: ","))
    }
    /// `UTF8ONLY` (IRCv3): the server only relays UTF-8.
    public mutating func utf8Only() { put("UTF8ONLY", nil) }
    /// `NETWORK=name`.
    public mutating func network(_ name: String) { put("NETWORK", name) }
    /// `MODES=n`: channel modes with a param per MODE command.
    public mutating func modes(_ count: Int) { put("MODES", String(count)) }
    /// `CHANLIMIT=#&:n`.
    public mutating func chanLimit(prefixes: String, limit: Int?) {
        put("CHANLIMIT", prefixes + ":" + (limit.map(String.init) ?? ""))
    }
    /// `TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:` (a missing limit means unlimited).
    public mutating func targMax(_ limits: [(command: String, limit: Int?)]) {
        let value = limits.map { $0.command + ":" + ($0.limit.map(String.init) ?? "") }.joined(separator: ",")
        put("TARGMAX", value)
    }
    /// `WHOX`: WHO with field selection.
    public mutating func whox() { put("WHOX", nil) }

    /// The 005 messages advertising every token, split at `maxTokensPerLine` tokens and at the body limit.
    /// - Throws: `tokenTooLong` when one token alone does not fit.
    public func messages(
        server: String,
        nick: String,
        maxTokensPerLine: Int = 13,
        limits: IRCMessageLimits = .standard
    ) throws(Failure) -> [IRCMessage] {
        let trailing = "are supported by this server"
        // `:server 005 nick ` + ` :trailing`
        let fixed = 1 + server.utf8.count + 1 + 3 + 1 + nick.utf8.count + 2 + trailing.utf8.count
        let perLine = max(1, min(maxTokensPerLine, limits.maxParams - 2))
        var result: [IRCMessage] = []
        var current: [String] = []
        var length = fixed

        func flush() {
            guard !current.isEmpty else { return }
            result.append(IRCMessage(source: IRCSource(nick: server), .rplISupport, [nick] + current + [trailing]))
            current = []
            length = fixed
        }

        for token in tokens {
            let text = token.text
            let cost = text.utf8.count + 1
            guard fixed + cost <= limits.maxBodyBytes else { throw .tokenTooLong(token.name) }
            if current.count == perLine || length + cost > limits.maxBodyBytes { flush() }
            current.append(text)
            length += cost
        }
        flush()
        return result
    }

    /// Escapes a token value: space, `\`, `=` and every control byte become `\xHH`.
    public static func escapeValue(_ value: String) -> String {
        var out: [UInt8] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in value.utf8 {
            if byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "=") {
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || isASCIIDigit($0) }
    }
}
