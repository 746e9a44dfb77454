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

    /// Remote text is untrusted: no CR, LF or NUL may reach an IRC line.
    static func cleaned(_ text: String) -> String {
        String(text.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "\r", "\n", "\0": " "
            default: Character(scalar)
            }
        })
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
