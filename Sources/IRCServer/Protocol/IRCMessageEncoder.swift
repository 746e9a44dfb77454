/// Serialises an `IRCMessage` to the bytes of one line ending in CR LF: a pure function, no I/O.
///
/// The counterpart of `IRCMessageParser`: whatever it encodes, the parser reads back as an equal message (with the
/// verb as spelt). Tag values are escaped per IRCv3 message-tags; a missing value is written `key`, an empty one
/// `key=`. The last param is written with `:` only when it needs it: when it is empty, contains a space or starts
/// with `:`. Anything that could change the framing is refused with a typed error rather than altered: CR, LF or
/// NUL in a param or source, NUL in a tag value, spaces or a leading `:` in a middle param, invalid keys or verbs,
/// more than `limits.maxParams` params, or a tag section or body longer than `limits`. Callers that relay text from
/// elsewhere (history, peers) must split or clean it first; the encoder never truncates silently.
public struct IRCMessageEncoder: Sendable {
    public var limits: IRCMessageLimits

    public init(limits: IRCMessageLimits = .standard) {
        self.limits = limits
    }

    /// Encodes `message` with the default limits.
    public static func encode(_ message: IRCMessage) throws(IRCEncodeError) -> [UInt8] {
        try IRCMessageEncoder().encode(message)
    }

    /// The bytes of `message` followed by CR LF.
    public func encode(_ message: IRCMessage) throws(IRCEncodeError) -> [UInt8] {
        var out: [UInt8] = []
        try encode(message, into: &out)
        return out
    }

    /// Appends the bytes of `message` and CR LF to `buffer`. On error `buffer` is left unchanged.
    public func encode(_ message: IRCMessage, into buffer: inout [UInt8]) throws(IRCEncodeError) {
        let start = buffer.count
        do {
            try write(message, into: &buffer)
        } catch {
            buffer.removeSubrange(start...)
            throw error
        }
    }

    private func write(_ message: IRCMessage, into out: inout [UInt8]) throws(IRCEncodeError) {
        let tagStart = out.count
        if !message.tags.isEmpty {
            out.append(UInt8(ascii: "@"))
            for (position, tag) in message.tags.enumerated() {
                guard IRCTag.isValidKey(tag.key) else { throw .invalidTagKey(tag.key) }
                if position > 0 { out.append(UInt8(ascii: ";")) }
                out.append(contentsOf: tag.key.utf8)
                if let value = tag.value {
                    guard !value.utf8.contains(0) else { throw .tagValueContainsNUL(key: tag.key) }
                    out.append(UInt8(ascii: "="))
                    out.append(contentsOf: IRCTag.escape(value).utf8)
                }
            }
            out.append(UInt8(ascii: " "))
            let length = out.count - tagStart
            guard length <= limits.maxTagSectionBytes else {
                throw .tagsTooLong(length: length, limit: limits.maxTagSectionBytes)
            }
        }

        let bodyStart = out.count
        if let source = message.source {
            try validate(source)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: source.text.utf8)
            out.append(UInt8(ascii: " "))
        }

        switch message.command {
        case .verb(let verb):
            guard !verb.isEmpty, verb.utf8.allSatisfy(isASCIILetter) else { throw .invalidCommand(verb) }
        case .numeric(let code):
            guard code <= 999 else { throw .invalidCommand(String(code)) }
        }
        out.append(contentsOf: message.command.text.utf8)

        let params = message.params
        guard params.count <= limits.maxParams else {
            throw .tooManyParams(count: params.count, limit: limits.maxParams)
        }
        for (index, param) in params.enumerated() {
            let utf8 = param.utf8
            if utf8.contains(where: { $0 == 0 || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
                throw .invalidParam(index: index, problem: .containsLineBreakOrNUL)
            }
            let needsColon = utf8.isEmpty || utf8.first == UInt8(ascii: ":") || utf8.contains(UInt8(ascii: " "))
            out.append(UInt8(ascii: " "))
            if index == params.count - 1 {
                if needsColon { out.append(UInt8(ascii: ":")) }
            } else if needsColon {
                if utf8.isEmpty { throw .invalidParam(index: index, problem: .emptyMiddle) }
                if utf8.first == UInt8(ascii: ":") {
                    throw .invalidParam(index: index, problem: .middleStartsWithColon)
                }
                throw .invalidParam(index: index, problem: .middleContainsSpace)
            }
            out.append(contentsOf: utf8)
        }

        let bodyLength = out.count - bodyStart
        guard bodyLength <= limits.maxBodyBytes else {
            throw .bodyTooLong(length: bodyLength, limit: limits.maxBodyBytes)
        }
        out.append(UInt8(ascii: "\r"))
        out.append(UInt8(ascii: "\n"))
    }

    private func validate(_ source: IRCSource) throws(IRCEncodeError) {
        func clean(_ part: String) -> Bool {
            !part.utf8.contains { byte in
                byte == 0 || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
            }
        }
        let nickOK = !source.nick.isEmpty && clean(source.nick)
            && !source.nick.utf8.contains { $0 == UInt8(ascii: "!") || $0 == UInt8(ascii: "@") }
        let userOK = source.user.map { clean($0) && !$0.utf8.contains(UInt8(ascii: "@")) } ?? true
        let hostOK = source.host.map(clean) ?? true
        guard nickOK, userOK, hostOK else { throw .invalidSource(source.text) }
    }
}
