import IRCServer
import Testing

/// A message and the lines that may encode it, transcribed from `ircdocs/parser-tests` `tests/msg-join.yaml` (CC0).
/// Our encoder is deterministic, so its output must be one of `matches`; parsing every match must give the message.
struct JoinCase: Sendable, CustomTestStringConvertible {
    let description: String
    let message: IRCMessage
    let matches: [String]

    var testDescription: String { description }
}

let msgJoinCases: [JoinCase] = [
    JoinCase(
        description: "verb and params",
        message: IRCMessage(command: .verb("FOO"), params: ["bar", "baz", "asdf"]),
        matches: ["FOO bar baz asdf", "FOO bar baz :asdf"]),
    JoinCase(
        description: "source and no params",
        message: IRCMessage(source: IRCSource(nick: "src"), command: .verb("AWAY")),
        matches: [":src AWAY"]),
    JoinCase(
        description: "source and empty trailing",
        message: IRCMessage(source: IRCSource(nick: "src"), command: .verb("AWAY"), params: [""]),
        matches: [":src AWAY :"]),
    JoinCase(
        description: "source",
        message: IRCMessage(source: IRCSource(nick: "coolguy"), command: .verb("FOO"), params: ["bar", "baz", "asdf"]),
        matches: [":coolguy FOO bar baz asdf", ":coolguy FOO bar baz :asdf"]),
    JoinCase(
        description: "trailing param",
        message: IRCMessage(command: .verb("FOO"), params: ["bar", "baz", "asdf quux"]),
        matches: ["FOO bar baz :asdf quux"]),
    JoinCase(
        description: "empty trailing param",
        message: IRCMessage(command: .verb("FOO"), params: ["bar", "baz", ""]),
        matches: ["FOO bar baz :"]),
    JoinCase(
        description: "trailing param starting with colon",
        message: IRCMessage(command: .verb("FOO"), params: ["bar", "baz", ":asdf"]),
        matches: ["FOO bar baz ::asdf"]),
    JoinCase(
        description: "source and trailing",
        message: IRCMessage(source: IRCSource(nick: "coolguy"), command: .verb("FOO"), params: ["bar", "baz", "asdf quux"]),
        matches: [":coolguy FOO bar baz :asdf quux"]),
    JoinCase(
        description: "trailing with leading and trailing spaces",
        message: IRCMessage(source: IRCSource(nick: "coolguy"), command: .verb("FOO"), params: ["bar", "baz", "  asdf quux "]),
        matches: [":coolguy FOO bar baz :  asdf quux "]),
    JoinCase(
        description: "trailing that looks like another trailing",
        message: IRCMessage(source: IRCSource(nick: "coolguy"), command: .verb("PRIVMSG"), params: ["bar", "lol :) "]),
        matches: [":coolguy PRIVMSG bar :lol :) "]),
    JoinCase(
        description: "trailing of spaces only",
        message: IRCMessage(source: IRCSource(nick: "coolguy"), command: .verb("FOO"), params: ["bar", "baz", "  "]),
        matches: [":coolguy FOO bar baz :  "]),
    JoinCase(
        description: "tab is not a space",
        message: IRCMessage(source: IRCSource(nick: "coolguy"), command: .verb("FOO"), params: ["b\tar", "baz"]),
        matches: [":coolguy FOO b\tar baz", ":coolguy FOO b\tar :baz"]),
    JoinCase(
        description: "tag with empty value",
        message: IRCMessage(
            tags: ["asd": ""], source: IRCSource(nick: "coolguy"), command: .verb("FOO"), params: ["bar", "baz", "  "]),
        matches: ["@asd :coolguy FOO bar baz :  ", "@asd= :coolguy FOO bar baz :  "]),
    JoinCase(
        description: "tag with missing value",
        message: IRCMessage(
            tags: ["asd": nil], source: IRCSource(nick: "coolguy"), command: .verb("FOO"), params: ["bar", "baz", "  "]),
        matches: ["@asd :coolguy FOO bar baz :  "]),
    JoinCase(
        description: "escaped tag values",
        message: IRCMessage(tags: ["a": "b\\and\nk", "d": "gh;764"], command: .verb("FOO")),
        matches: [#"@a=b\\and\nk;d=gh\:764 FOO"#]),
    JoinCase(
        description: "escaped tag values and params",
        message: IRCMessage(tags: ["a": "b\\and\nk", "d": "gh;764"], command: .verb("FOO"), params: ["par1", "par2"]),
        matches: [#"@a=b\\and\nk;d=gh\:764 FOO par1 par2"#, #"@a=b\\and\nk;d=gh\:764 FOO par1 :par2"#]),
    JoinCase(
        description: "long, strange tag values",
        message: IRCMessage(tags: ["foo": "\\\\;\\s \r\n"], command: .verb("COMMAND")),
        matches: [#"@foo=\\\\\:\\s\s\r\n COMMAND"#]),
]

@Suite struct IRCMessageEncoderTests {
    @Test(arguments: msgJoinCases)
    func parserTestsMsgJoin(_ testCase: JoinCase) throws {
        let encoded = try IRCMessageEncoder.encode(testCase.message)
        #expect(encoded.suffix(2) == [0x0D, 0x0A])
        let line = String(decoding: encoded.dropLast(2), as: UTF8.self)
        #expect(testCase.matches.contains(line), "got \(line)")
        for match in testCase.matches {
            var parsed = try IRCMessageParser.parse(match)
            // The spec allows a missing value where an empty one was meant; compare modulo that.
            parsed.tags = IRCTags(parsed.tags.map { IRCTag(key: $0.key, value: $0.value ?? "") })
            var expected = testCase.message
            expected.tags = IRCTags(expected.tags.map { IRCTag(key: $0.key, value: $0.value ?? "") })
            #expect(parsed == expected, "\(match)")
        }
    }

    @Test func colonOnlyWhenNeeded() throws {
        func line(_ params: [String]) throws -> String {
            let encoded = try IRCMessageEncoder.encode(IRCMessage(command: .verb("X"), params: params))
            return String(decoding: encoded.dropLast(2), as: UTF8.self)
        }
        #expect(try line(["a", "b"]) == "X a b")
        #expect(try line(["a", "b c"]) == "X a :b c")
        #expect(try line(["a", ""]) == "X a :")
        #expect(try line([":)"]) == "X ::)")
        #expect(try line(["a:b"]) == "X a:b")
        #expect(try line([]) == "X")
    }

    @Test func numericsAreZeroPadded() throws {
        let welcome = IRCMessage(source: IRCSource(nick: "pear.local"), .rplWelcome, ["alice", "Welcome to PearIRC"])
        #expect(try IRCMessageEncoder.encode(welcome) == Array(":pear.local 001 alice :Welcome to PearIRC\r\n".utf8))
        #expect(throws: IRCEncodeError.invalidCommand("1000")) {
            try IRCMessageEncoder.encode(IRCMessage(command: .numeric(1000)))
        }
    }

    @Test func injectionThroughParamsIsRefused() {
        let attempts = ["hi\r\nQUIT :pwned", "hi\nJOIN #x", "hi\rKICK", "nul\u{0}byte"]
        for text in attempts {
            #expect(throws: IRCEncodeError.invalidParam(index: 1, problem: .containsLineBreakOrNUL), "\(text)") {
                try IRCMessageEncoder.encode(IRCMessage("PRIVMSG", "#c", text))
            }
            #expect(throws: IRCEncodeError.invalidParam(index: 0, problem: .containsLineBreakOrNUL)) {
                try IRCMessageEncoder.encode(IRCMessage("PRIVMSG", text, "x"))
            }
        }
    }

    @Test func injectionThroughSourceCommandOrTagsIsRefused() {
        #expect(throws: IRCEncodeError.self) {
            try IRCMessageEncoder.encode(IRCMessage(source: IRCSource(nick: "a\r\nQUIT"), "PING", "x"))
        }
        #expect(throws: IRCEncodeError.self) {
            try IRCMessageEncoder.encode(IRCMessage(source: IRCSource(nick: "a", user: "u", host: "h x"), "PING", "x"))
        }
        #expect(throws: IRCEncodeError.self) {
            try IRCMessageEncoder.encode(IRCMessage(source: IRCSource(nick: "a!b"), "PING", "x"))
        }
        #expect(throws: IRCEncodeError.self) {
            try IRCMessageEncoder.encode(IRCMessage(source: IRCSource(nick: ""), "PING", "x"))
        }
        #expect(throws: IRCEncodeError.invalidCommand("PING\r\nQUIT")) {
            try IRCMessageEncoder.encode(IRCMessage("PING\r\nQUIT"))
        }
        #expect(throws: IRCEncodeError.invalidCommand("")) { try IRCMessageEncoder.encode(IRCMessage("")) }
        #expect(throws: IRCEncodeError.invalidTagKey("a b")) {
            try IRCMessageEncoder.encode(IRCMessage(tags: ["a b": "x"], command: .verb("TAGMSG"), params: ["#c"]))
        }
        #expect(throws: IRCEncodeError.tagValueContainsNUL(key: "a")) {
            try IRCMessageEncoder.encode(IRCMessage(tags: ["a": "x\u{0}"], command: .verb("TAGMSG"), params: ["#c"]))
        }
    }

    @Test func tagValuesWithLineBreaksAreEscapedNotRefused() throws {
        let message = IRCMessage(tags: ["+x": "a\r\nQUIT b;c\\"], command: .verb("TAGMSG"), params: ["#c"])
        let encoded = try IRCMessageEncoder.encode(message)
        #expect(encoded == Array(#"@+x=a\r\nQUIT\sb\:c\\ TAGMSG #c"#.utf8) + [0x0D, 0x0A])
        #expect(try IRCMessageParser.parse(encoded.dropLast(2)) == message)
    }

    @Test func middleParamsMustBeWritable() {
        #expect(throws: IRCEncodeError.invalidParam(index: 0, problem: .middleContainsSpace)) {
            try IRCMessageEncoder.encode(IRCMessage("MODE", "#a b", "+o"))
        }
        #expect(throws: IRCEncodeError.invalidParam(index: 0, problem: .emptyMiddle)) {
            try IRCMessageEncoder.encode(IRCMessage("MODE", "", "+o"))
        }
        #expect(throws: IRCEncodeError.invalidParam(index: 0, problem: .middleStartsWithColon)) {
            try IRCMessageEncoder.encode(IRCMessage("MODE", ":x", "+o"))
        }
    }

    @Test func limitsAreEnforced() throws {
        let fifteen = IRCMessage(command: .verb("X"), params: (1...15).map { "p\($0)" })
        #expect(try IRCMessageParser.parse(IRCMessageEncoder.encode(fifteen).dropLast(2)) == fifteen)
        #expect(throws: IRCEncodeError.tooManyParams(count: 16, limit: 15)) {
            try IRCMessageEncoder.encode(IRCMessage(command: .verb("X"), params: (1...16).map { "p\($0)" }))
        }
        let prefix = "PRIVMSG #c :"
        // The text contains a space, so it is written with ':' and the body is exactly 510 bytes.
        let fits = IRCMessage("PRIVMSG", "#c", " " + String(repeating: "x", count: 510 - prefix.utf8.count - 1))
        #expect(try IRCMessageEncoder.encode(fits).count == 512)
        var tooLong = fits
        tooLong.params[1] += "y"
        #expect(throws: IRCEncodeError.bodyTooLong(length: 511, limit: 510)) { try IRCMessageEncoder.encode(tooLong) }
        let bigTag = IRCMessage(tags: ["k": String(repeating: "v", count: 8188)], command: .verb("PING"), params: ["x"])
        #expect(throws: IRCEncodeError.tagsTooLong(length: 8192, limit: 8191)) { try IRCMessageEncoder.encode(bigTag) }
    }

    @Test func failedEncodeLeavesBufferUnchanged() throws {
        var buffer = Array("PING a\r\n".utf8)
        #expect(throws: IRCEncodeError.self) {
            try IRCMessageEncoder().encode(IRCMessage("PRIVMSG", "#c", "a\nb"), into: &buffer)
        }
        #expect(buffer == Array("PING a\r\n".utf8))
        try IRCMessageEncoder().encode(IRCMessage("PONG", "a"), into: &buffer)
        #expect(buffer == Array("PING a\r\nPONG a\r\n".utf8))
    }

    @Test func roundTripsRepresentativeMessages() throws {
        let messages = [
            IRCMessage(
                tags: ["time": "2026-11-25T06:00:00.000Z", "msgid": "abc", "+draft/reply": "x y;z", "account": nil],
                source: IRCSource(nick: "alice", user: "~a", host: "pear/alice"), command: .verb("PRIVMSG"),
                params: ["#rust", "hello, world :)"]),
            IRCMessage(source: IRCSource(nick: "pear.local"), .errNeedMoreParams, ["*", "JOIN", "Not enough parameters"]),
            IRCMessage("CAP", "*", "LS", "302"),
            IRCMessage("AUTHENTICATE", "+"),
            IRCMessage(source: IRCSource(nick: "bob", user: "b", host: "h"), "JOIN", "#a", "*", "Bob Smith"),
            IRCMessage("PRIVMSG", "#c", "café ☕ 日本語"),
        ]
        for message in messages {
            let encoded = try IRCMessageEncoder.encode(message)
            #expect(try IRCMessageParser.parse(encoded.dropLast(2)) == message)
        }
    }
}
