/// Parses the bytes of one IRC line (CR LF already removed) into an `IRCMessage`: a pure function, no I/O.
///
/// Grammar: RFC 1459 §2.3.1 / RFC 2812 §2.3.1 with IRCv3 message-tags in front:
/// `['@' tags SPACE] [':' source SPACE] command *(SPACE middle) [SPACE ':' trailing]`.
/// Checked against the `ircdocs/parser-tests` `msg-split` and `userhost-split` cases.
///
/// Choices, where the RFCs leave room or real clients need slack:
/// - **Spaces:** one *or more* spaces separate every part (RFC 1459 wording; RFC 2812 says exactly one). Leading
///   spaces before the line and trailing spaces after the last middle param are ignored (`MODE #c +n ` has two
///   params). Only 0x20 is a space; tab is an ordinary byte.
/// - **Params:** at most `limits.maxParams` (15). As RFC 2812 specifies, once 14 middle params have been read the
///   rest of the line is the 15th param, with or without a leading `:`, so an over-long param list never fails.
/// - **Limits:** the tag section (from `@` to its ending space, inclusive) may be at most 8191 bytes and the rest of
///   the line at most 510 bytes (512 with CR LF); longer lines throw `tagsTooLong` / `bodyTooLong` rather than being
///   silently truncated, so the server can answer `ERR_INPUTTOOLONG` (417) as modern servers do.
/// - **Invalid UTF-8:** by default (`.replace`) each invalid sequence becomes U+FFFD, so a client with a legacy
///   charset (Latin-1 irssi) still gets its message through and everything we store, sign and relay is valid UTF-8
///   (what `UTF8ONLY` promises). With `.reject` such a line throws `invalidUTF8` instead. Limits are measured on the
///   received bytes, before replacement.
/// - **NUL, CR, LF** inside a line throw (`containsNUL`, `containsLineBreak`); they can never reach a param.
/// - **Tags:** empty tag entries (`@a;;b`, `@;a`, a lone `@`) are skipped; a key must be `[+][vendor/]name`, else
///   `invalidTagKey`. A duplicated key keeps its first position and its last value. `key` (missing value) and `key=`
///   (empty value) stay distinct. Values are unescaped char by char: `\:` `\s` `\\` `\r` `\n`; a backslash before
///   any other character is dropped; a trailing lone backslash is dropped.
/// - **Source:** `:` must be followed by something (`emptySource`); it is split by `IRCSource(parsing:)` and never
///   fails. Control characters in hosts are kept as sent.
/// - **Command:** letters only (upper-cased, since commands are case-insensitive) or exactly three digits; anything
///   else throws `invalidCommand` carrying the text so the server can reply `ERR_UNKNOWNCOMMAND`.
public struct IRCMessageParser: Sendable {
    /// What to do with bytes that are not valid UTF-8.
    public enum InvalidUTF8Policy: Hashable, Sendable {
        /// Replace each invalid sequence with U+FFFD (the default).
        case replace
        /// Refuse the whole line with `IRCParseError.invalidUTF8`.
        case reject
    }

    public var limits: IRCMessageLimits
    public var invalidUTF8: InvalidUTF8Policy

    public init(limits: IRCMessageLimits = .standard, invalidUTF8: InvalidUTF8Policy = .replace) {
        self.limits = limits
        self.invalidUTF8 = invalidUTF8
    }

    /// Parses `line` with the default limits and U+FFFD replacement.
    public static func parse<Bytes: Collection<UInt8>>(_ line: Bytes) throws(IRCParseError) -> IRCMessage {
        try IRCMessageParser().parse(line)
    }

    /// Parses the UTF-8 of `line` with the default limits.
    public static func parse(_ line: String) throws(IRCParseError) -> IRCMessage {
        try IRCMessageParser().parse(Array(line.utf8))
    }

    /// Parses one line, CR LF removed.
    public func parse<Bytes: Collection<UInt8>>(_ line: Bytes) throws(IRCParseError) -> IRCMessage {
        if let bytes = line as? [UInt8] {
            return try parse(bytes: bytes[...])
        }
        if let bytes = line as? ArraySlice<UInt8> {
            return try parse(bytes: bytes)
        }
        return try parse(bytes: Array(line)[...])
    }

    private func parse(bytes line: ArraySlice<UInt8>) throws(IRCParseError) -> IRCMessage {
        for byte in line {
            if byte == 0 { throw .containsNUL }
            if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { throw .containsLineBreak }
        }
        if invalidUTF8 == .reject, !Self.isValidUTF8(line) {
            throw .invalidUTF8
        }

        let space = UInt8(ascii: " ")
        let end = line.endIndex
        var index = skipSpaces(line, from: line.startIndex)
        guard index < end else { throw .emptyLine }

        // Tags.
        var tags = IRCTags()
        if line[index] == UInt8(ascii: "@") {
            guard let tagEnd = line[index...].firstIndex(of: space) else { throw .missingCommand }
            let sectionLength = tagEnd - index + 1
            guard sectionLength <= limits.maxTagSectionBytes else {
                throw .tagsTooLong(length: sectionLength, limit: limits.maxTagSectionBytes)
            }
            let entries = line[(index + 1)..<tagEnd].split(separator: UInt8(ascii: ";"))
            for entry in entries {
                let equals = entry.firstIndex(of: UInt8(ascii: "="))
                let key = entry[..<(equals ?? entry.endIndex)]
                guard IRCTag.isValidKey(utf8: key) else { throw .invalidTagKey(text(key)) }
                let value = equals.map { text(IRCTag.unescape(entry[($0 + 1)...])[...]) }
                tags.set(text(key), value)
            }
            index = skipSpaces(line, from: tagEnd)
            guard index < end else { throw .missingCommand }
        }

        let bodyLength = end - index
        guard bodyLength <= limits.maxBodyBytes else {
            throw .bodyTooLong(length: bodyLength, limit: limits.maxBodyBytes)
        }

        // Source.
        var source: IRCSource?
        if line[index] == UInt8(ascii: ":") {
            let sourceEnd = line[index...].firstIndex(of: space) ?? end
            let sourceBytes = line[(index + 1)..<sourceEnd]
            guard !sourceBytes.isEmpty else { throw .emptySource }
            source = IRCSource(parsing: text(sourceBytes))
            index = skipSpaces(line, from: sourceEnd)
            guard index < end else { throw .missingCommand }
        }

        // Command.
        let commandEnd = line[index...].firstIndex(of: space) ?? end
        let commandBytes = line[index..<commandEnd]
        let command: IRCCommand
        if commandBytes.allSatisfy(isASCIILetter) {
            command = .verb(String(decoding: commandBytes.map(asciiUppercased), as: UTF8.self))
        } else if commandBytes.count == 3, commandBytes.allSatisfy(isASCIIDigit) {
            let code = commandBytes.reduce(UInt16(0)) { $0 * 10 + UInt16($1 - UInt8(ascii: "0")) }
            command = .numeric(code)
        } else {
            throw .invalidCommand(text(commandBytes))
        }
        index = commandEnd

        // Params.
        var params: [String] = []
        let maxParams = max(1, limits.maxParams)
        while true {
            index = skipSpaces(line, from: index)
            guard index < end else { break }
            if line[index] == UInt8(ascii: ":") {
                params.append(text(line[(index + 1)...]))
                break
            }
            if params.count == maxParams - 1 {
                // RFC 2812: after 14 middles the rest of the line is the last param, colon optional.
                params.append(text(line[index...]))
                break
            }
            let paramEnd = line[index...].firstIndex(of: space) ?? end
            params.append(text(line[index..<paramEnd]))
            index = paramEnd
        }

        return IRCMessage(tags: tags, source: source, command: command, params: params)
    }

    /// Strict UTF-8 validation (no overlong forms, surrogates or code points above U+10FFFF), written out because
    /// `String(validating:as:)` needs macOS 15 and the package supports macOS 14.
    static func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = Unicode.UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private func skipSpaces(_ line: ArraySlice<UInt8>, from start: Int) -> Int {
        var index = start
        while index < line.endIndex, line[index] == UInt8(ascii: " ") { index += 1 }
        return index
    }

    /// Decodes bytes as UTF-8, replacing invalid sequences with U+FFFD (under `.reject` the line is already valid).
    private func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
