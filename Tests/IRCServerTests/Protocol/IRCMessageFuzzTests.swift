import IRCServer
import TestVectors
import Testing

/// Property tests: garbage never traps, and every message the encoder accepts parses back equal.
@Suite struct IRCMessageFuzzTests {
    /// Bytes weighted towards the characters that matter to the grammar, so the parser's branches get exercised.
    static let alphabet: [UInt8] = Array("@:;= !\\/+-.#&abcXYZ019 \r\n\t".utf8) + [0x00, 0xC3, 0xA9, 0xFF, 0xE2, 0x80]

    @Test func randomBytesNeverCrashTheParser() {
        var rng = SeededGenerator(seed: 1)
        for _ in 0..<3000 {
            let line = rng.bytes(Int.random(in: 0...600, using: &rng))
            _ = try? IRCMessageParser.parse(line)
            _ = try? IRCMessageParser(invalidUTF8: .reject).parse(line)
        }
    }

    @Test func randomGrammarSoupNeverCrashesAndParsesBackStably() {
        var rng = SeededGenerator(seed: 2)
        for _ in 0..<5000 {
            let count = Int.random(in: 0...80, using: &rng)
            let line = (0..<count).map { _ in Self.alphabet[Int.random(in: 0..<Self.alphabet.count, using: &rng)] }
            guard let message = try? IRCMessageParser.parse(line) else { continue }
            // Whatever parses and can be re-encoded must parse back to the same message.
            guard let encoded = try? IRCMessageEncoder.encode(message) else { continue }
            #expect((try? IRCMessageParser.parse(encoded.dropLast(2))) == message, "\(line)")
        }
    }

    @Test func hugeLinesAreRefusedNotTrapped() {
        var rng = SeededGenerator(seed: 3)
        let body = Array("PRIVMSG #c :".utf8) + rng.bytes(20_000).map { $0 | 0x20 }
        #expect(throws: IRCParseError.self) { try IRCMessageParser.parse(body) }
        let tags = [UInt8(ascii: "@")] + Array(repeating: UInt8(ascii: "a"), count: 20_000) + Array(" PING x".utf8)
        #expect(throws: IRCParseError.tagsTooLong(length: 20_002, limit: 8191)) { try IRCMessageParser.parse(tags) }
    }

    @Test func randomMessagesRoundTrip() throws {
        var rng = SeededGenerator(seed: 4)
        func word(_ chars: String, _ range: ClosedRange<Int>) -> String {
            let pool = Array(chars)
            let count = Int.random(in: range, using: &rng)
            return String((0..<count).map { _ in pool[Int.random(in: 0..<pool.count, using: &rng)] })
        }
        let letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        let text = letters + "0123456789 :;=\\@!#&\t\u{1}é☕"
        var checked = 0
        for _ in 0..<2000 {
            var tags = IRCTags()
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let clientOnly = Bool.random(using: &rng) ? "+" : ""
                let vendor = Bool.random(using: &rng) ? "ex.com/" : ""
                let key = clientOnly + vendor + word(letters + "-", 1...8)
                tags.set(key, Bool.random(using: &rng) ? word(text + "\r\n", 0...12) : nil)
            }
            let source: IRCSource? = Bool.random(using: &rng)
                ? IRCSource(
                    nick: word(letters, 1...9), user: Bool.random(using: &rng) ? word(letters + "~", 0...5) : nil,
                    host: Bool.random(using: &rng) ? word(letters + ".!@:", 0...10) : nil)
                : nil
            let command: IRCCommand = Bool.random(using: &rng)
                ? .verb(word("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1...10)) : .numeric(UInt16.random(in: 0...999, using: &rng))
            let paramCount = Int.random(in: 0...15, using: &rng)
            var params = (0..<paramCount).map { _ in word(letters + "#&:0", 1...6) }
                .map { $0.hasPrefix(":") ? "x" + $0 : $0 }
            if !params.isEmpty, Bool.random(using: &rng) { params[params.count - 1] = word(text, 0...30) }
            let message = IRCMessage(tags: tags, source: source, command: command, params: params)
            let encoded = try IRCMessageEncoder.encode(message)
            #expect(try IRCMessageParser.parse(encoded.dropLast(2)) == message)
            checked += 1
        }
        #expect(checked == 2000)
    }

    @Test func randomChunkingNeverCrashesTheFramerAndStaysBounded() {
        var rng = SeededGenerator(seed: 5)
        var framer = IRCLineFramer(maxLineLength: 64)
        for _ in 0..<2000 {
            let chunk = rng.bytes(Int.random(in: 0...200, using: &rng)).map {
                // Make terminators common enough that both paths run.
                $0 < 16 ? ($0 < 8 ? UInt8(ascii: "\n") : UInt8(ascii: "\r")) : $0
            }
            for event in framer.feed(chunk) {
                if case .line(let line) = event {
                    #expect(line.count <= 64 && !line.isEmpty)
                    #expect(!line.contains(UInt8(ascii: "\r")) && !line.contains(UInt8(ascii: "\n")))
                    _ = try? IRCMessageParser.parse(line)
                }
            }
            #expect(framer.bufferedByteCount <= 64)
        }
    }

    /// Valid lines with random bytes overwritten, inserted or deleted: the parser must answer, never trap.
    @Test func mutatedValidLinesNeverCrash() throws {
        var rng = SeededGenerator(seed: 6)
        let seeds = [
            "@time=2026-11-25T06:00:00.000Z;msgid=abc;+draft/reply=x\\sy :alice!~a@pear/alice PRIVMSG #rust :hello",
            ":pear.local 005 alice CASEMAPPING=rfc1459 CHANTYPES=#& :are supported by this server",
            "CAP REQ :message-tags server-time",
            "AUTHENTICATE AGFsaWNlAHNlY3JldA==",
        ].map { Array($0.utf8) }
        for _ in 0..<4000 {
            var line = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let position = Int.random(in: 0...line.count, using: &rng)
                let byte = rng.bytes(1)[0]
                switch Int.random(in: 0..<3, using: &rng) {
                case 0 where position < line.count: line[position] = byte
                case 1: line.insert(byte, at: position)
                default: if position < line.count { line.remove(at: position) }
                }
            }
            if let message = try? IRCMessageParser.parse(line), let encoded = try? IRCMessageEncoder.encode(message) {
                #expect(try IRCMessageParser.parse(encoded.dropLast(2)) == message)
            }
        }
    }
}
