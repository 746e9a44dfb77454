/// How room text becomes IRC text: the one place for the CTCP ACTION rule, the long-line policy and the cleaning
/// of untrusted remote text. Other front ends have their own rules (the web front end escapes HTML instead).
enum IRCRoomText {
    /// The most UTF-8 bytes of text in one IRC line we send: 512 bytes with the prefix, command and channel around it.
    static let lineLimit = 400

    /// The text of a CTCP ACTION (`/me`), or nil.
    static func action(_ text: String) -> String? {
        guard text.hasPrefix("\u{1}ACTION "), text.count > 8 else { return nil }
        var body = text.dropFirst(8)
        if body.hasSuffix("\u{1}") { body = body.dropLast() }
        return String(body)
    }

    /// An action's text as IRC carries it.
    static func wrapAction(_ text: String) -> String { "\u{1}ACTION \(text)\u{1}" }

    /// IRC's formatting codes (bold, colour, hex colour, reset, monospace, reverse, italic, strikethrough,
    /// underline): the only control characters remote text keeps.
    static let formattingCodes: Set<UInt32> = [0x02, 0x03, 0x04, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F]

    /// Remote text is untrusted: CR, LF and NUL become spaces (they would end or break the IRC line), and every other
    /// control character but the formatting codes is dropped (ESC would reach terminal clients as an escape
    /// sequence, 0x01 as CTCP).
    static func cleaned(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0D, 0x0A, 0x00: out.append(" ")
            case let value where (value < 0x20 || value == 0x7F) && !formattingCodes.contains(value): continue
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// Text cleaned and cut to one IRC line (topics, part reasons, history lines).
    static func oneLine(_ text: String) -> String {
        lines(cleaned(text)).first ?? ""
    }

    /// Cleaned text split into IRC lines: pieces of at most `limit` UTF-8 bytes, on character boundaries,
    /// preferring to break at a space in the second half of a piece.
    static func lines(_ text: String, limit: Int = lineLimit) -> [String] {
        guard text.utf8.count > limit else { return [text] }
        var pieces: [String] = []
        var current = ""
        var currentBytes = 0
        for character in text {
            let size = character.utf8.count
            if currentBytes + size > limit {
                if let space = current.lastIndex(of: " "), current[..<space].utf8.count > limit / 2 {
                    let head = String(current[..<space]), tail = String(current[current.index(after: space)...])
                    pieces.append(head)
                    current = tail
                    currentBytes = tail.utf8.count
                } else {
                    pieces.append(current)
                    current = ""
                    currentBytes = 0
                }
            }
            current.append(character)
            currentBytes += size
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}
