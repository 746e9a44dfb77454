import IRCServer
import Testing

/// Expected atoms of a parsed line, as in `ircdocs/parser-tests`: tags (missing value written `""` there, so we
/// compare `value ?? ""` for the transcribed cases), source text, verb, params.
struct SplitCase: Sendable, CustomTestStringConvertible {
    let input: String
    var tags: [(String, String)] = []
    var source: String?
    let verb: String
    var params: [String] = []

    var testDescription: String { input }
}

/// Cases transcribed from `ircdocs/parser-tests` `tests/msg-split.yaml` (CC0). Verbs are given upper-cased
/// because our parser upper-cases commands; the YAML's lower-case `foo` is the same command.
let msgSplitCases: [SplitCase] = [
    SplitCase(input: "foo bar baz asdf", verb: "FOO", params: ["bar", "baz", "asdf"]),
    SplitCase(input: ":coolguy foo bar baz asdf", source: "coolguy", verb: "FOO", params: ["bar", "baz", "asdf"]),
    SplitCase(input: "foo bar baz :asdf quux", verb: "FOO", params: ["bar", "baz", "asdf quux"]),
    SplitCase(input: "foo bar baz :", verb: "FOO", params: ["bar", "baz", ""]),
    SplitCase(input: "foo bar baz ::asdf", verb: "FOO", params: ["bar", "baz", ":asdf"]),
    SplitCase(input: ":coolguy foo bar baz :asdf quux", source: "coolguy", verb: "FOO", params: ["bar", "baz", "asdf quux"]),
    SplitCase(input: ":coolguy foo bar baz :  asdf quux ", source: "coolguy", verb: "FOO", params: ["bar", "baz", "  asdf quux "]),
    SplitCase(input: ":coolguy PRIVMSG bar :lol :) ", source: "coolguy", verb: "PRIVMSG", params: ["bar", "lol :) "]),
    SplitCase(input: ":coolguy foo bar baz :", source: "coolguy", verb: "FOO", params: ["bar", "baz", ""]),
    SplitCase(input: ":coolguy foo bar baz :  ", source: "coolguy", verb: "FOO", params: ["bar", "baz", "  "]),
    SplitCase(input: "@a=b;c=32;k;rt=ql7 foo", tags: [("a", "b"), ("c", "32"), ("k", ""), ("rt", "ql7")], verb: "FOO"),
    SplitCase(input: #"@a=b\\and\nk;c=72\s45;d=gh\:764 foo"#, tags: [("a", "b\\and\nk"), ("c", "72 45"), ("d", "gh;764")], verb: "FOO"),
    SplitCase(input: "@c;h=;a=b :quux ab cd", tags: [("c", ""), ("h", ""), ("a", "b")], source: "quux", verb: "AB", params: ["cd"]),
    SplitCase(input: ":src JOIN #chan", source: "src", verb: "JOIN", params: ["#chan"]),
    SplitCase(input: ":src JOIN :#chan", source: "src", verb: "JOIN", params: ["#chan"]),
    SplitCase(input: ":src AWAY", source: "src", verb: "AWAY"),
    SplitCase(input: ":src AWAY ", source: "src", verb: "AWAY"),
    SplitCase(input: ":cool\tguy foo bar baz", source: "cool\tguy", verb: "FOO", params: ["bar", "baz"]),
    SplitCase(
        input: ":coolguy!ag@net\u{03}5w\u{03}ork.admin PRIVMSG foo :bar baz",
        source: "coolguy!ag@net\u{03}5w\u{03}ork.admin", verb: "PRIVMSG", params: ["foo", "bar baz"]),
    SplitCase(
        input: ":coolguy!~ag@n\u{02}et\u{03}05w\u{0f}ork.admin PRIVMSG foo :bar baz",
        source: "coolguy!~ag@n\u{02}et\u{03}05w\u{0f}ork.admin", verb: "PRIVMSG", params: ["foo", "bar baz"]),
    SplitCase(
        input: "@tag1=value1;tag2;vendor1/tag3=value2;vendor2/tag4= :irc.example.com COMMAND param1 param2 :param3 param3",
        tags: [("tag1", "value1"), ("tag2", ""), ("vendor1/tag3", "value2"), ("vendor2/tag4", "")],
        source: "irc.example.com", verb: "COMMAND", params: ["param1", "param2", "param3 param3"]),
    SplitCase(
        input: ":irc.example.com COMMAND param1 param2 :param3 param3",
        source: "irc.example.com", verb: "COMMAND", params: ["param1", "param2", "param3 param3"]),
    SplitCase(
        input: "@tag1=value1;tag2;vendor1/tag3=value2;vendor2/tag4 COMMAND param1 param2 :param3 param3",
        tags: [("tag1", "value1"), ("tag2", ""), ("vendor1/tag3", "value2"), ("vendor2/tag4", "")],
        verb: "COMMAND", params: ["param1", "param2", "param3 param3"]),
    SplitCase(input: "COMMAND", verb: "COMMAND"),
    SplitCase(input: #"@foo=\\\\\:\\s\s\r\n COMMAND"#, tags: [("foo", "\\\\;\\s \r\n")], verb: "COMMAND"),
    SplitCase(
        input: ":gravel.mozilla.org 432  #momo :Erroneous Nickname: Illegal characters",
        source: "gravel.mozilla.org", verb: "432", params: ["#momo", "Erroneous Nickname: Illegal characters"]),
    SplitCase(input: ":gravel.mozilla.org MODE #tckk +n ", source: "gravel.mozilla.org", verb: "MODE", params: ["#tckk", "+n"]),
    SplitCase(
        input: ":services.esper.net MODE #foo-bar +o foobar  ",
        source: "services.esper.net", verb: "MODE", params: ["#foo-bar", "+o", "foobar"]),
    SplitCase(input: #"@tag1=value\\ntest COMMAND"#, tags: [("tag1", "value\\ntest")], verb: "COMMAND"),
    SplitCase(input: #"@tag1=value\1 COMMAND"#, tags: [("tag1", "value1")], verb: "COMMAND"),
    SplitCase(input: #"@tag1=value1\ COMMAND"#, tags: [("tag1", "value1")], verb: "COMMAND"),
    SplitCase(
        input: "@tag1=1;tag2=3;tag3=4;tag1=5 COMMAND",
        tags: [("tag1", "5"), ("tag2", "3"), ("tag3", "4")], verb: "COMMAND"),
    SplitCase(
        input: "@tag1=1;tag2=3;tag3=4;tag1=5;vendor/tag2=8 COMMAND",
        tags: [("tag1", "5"), ("tag2", "3"), ("tag3", "4"), ("vendor/tag2", "8")], verb: "COMMAND"),
    SplitCase(input: ":SomeOp MODE #channel :+i", source: "SomeOp", verb: "MODE", params: ["#channel", "+i"]),
    SplitCase(
        input: ":SomeOp MODE #channel +oo SomeUser :AnotherUser",
        source: "SomeOp", verb: "MODE", params: ["#channel", "+oo", "SomeUser", "AnotherUser"]),
]

/// Cases transcribed from `ircdocs/parser-tests` `tests/userhost-split.yaml` (CC0): source, nick, user, host.
let userhostSplitCases: [(String, String, String?, String?)] = [
    ("coolguy!ag@127.0.0.1", "coolguy", "ag", "127.0.0.1"),
    ("coolguy!~ag@localhost", "coolguy", "~ag", "localhost"),
    ("coolguy@127.0.0.1", "coolguy", nil, "127.0.0.1"),
    ("coolguy!ag", "coolguy", "ag", nil),
    ("coolguy!ag@net\u{03}5w\u{03}ork.admin", "coolguy", "ag", "net\u{03}5w\u{03}ork.admin"),
    ("coolguy!~ag@n\u{02}et\u{03}05w\u{0f}ork.admin", "coolguy", "~ag", "n\u{02}et\u{03}05w\u{0f}ork.admin"),
]

@Suite struct IRCMessageParserTests {
    @Test(arguments: msgSplitCases)
    func parserTestsMsgSplit(_ testCase: SplitCase) throws {
        let message = try IRCMessageParser.parse(testCase.input)
        #expect(message.tags.map(\.key) == testCase.tags.map(\.0))
        #expect(message.tags.map { $0.value ?? "" } == testCase.tags.map(\.1))
        #expect(message.source?.text == testCase.source)
        #expect(message.command.text == testCase.verb)
        #expect(message.params == testCase.params)
    }

    @Test func parserTestsUserhostSplit() {
        for (text, nick, user, host) in userhostSplitCases {
            let source = IRCSource(parsing: text)
            #expect(source == IRCSource(nick: nick, user: user, host: host), "\(text)")
            #expect(source.text == text)
        }
        #expect(IRCSource(parsing: "irc.example.com").isServerName)
        #expect(!IRCSource(parsing: "alice!a@example.com").isServerName)
    }

    /// Examples from the IRCv3 message-tags specification.
    @Test func messageTagsSpecExamples() throws {
        let plain = try IRCMessageParser.parse(
            "@aaa=bbb;ccc;example.com/ddd=eee :nick!ident@host.com PRIVMSG me :Hello")
        #expect(plain.tags == ["aaa": "bbb", "ccc": nil, "example.com/ddd": "eee"])
        #expect(plain.tags["ccc"]?.value == nil)
        #expect(plain.tags.contains("ccc"))
        #expect(plain.tags["example.com/ddd"]?.vendor == "example.com")
        #expect(plain.source == IRCSource(nick: "nick", user: "ident", host: "host.com"))
        #expect(plain.command == .verb("PRIVMSG"))
        #expect(plain.params == ["me", "Hello"])

        let icon = try IRCMessageParser.parse(
            "@+icon=https://example.com/favicon.png :url_bot!bot@example.com PRIVMSG #channel :Example.com: A News Story")
        #expect(icon.tags["+icon"]?.value == "https://example.com/favicon.png")
        #expect(icon.tags["+icon"]?.isClientOnly == true)
        #expect(icon.params == ["#channel", "Example.com: A News Story"])

        let clientTag = try IRCMessageParser.parse("@+example-client-tag=example-value PRIVMSG #channel :Message")
        #expect(clientTag.tags == ["+example-client-tag": "example-value"])

        let escaped = try IRCMessageParser.parse(
            #"@+example=raw+:=,escaped\:\s\\ :irc.example.com NOTICE #channel :Message"#)
        #expect(escaped.tags["+example"]?.value == #"raw+:=,escaped; \"#)
        #expect(escaped.tags["+example"]?.vendor == nil)

        let vendored = try IRCMessageParser.parse("@+example.com/foo=bar :irc.example.com NOTICE #channel :x")
        #expect(vendored.tags["+example.com/foo"]?.vendor == "example.com")
        #expect(vendored.tags["+example.com/foo"]?.isClientOnly == true)
    }

    @Test func missingAndEmptyTagValuesStayDistinct() throws {
        let message = try IRCMessageParser.parse("@a;b=;c=x TAGMSG #c")
        #expect(message.tags.entries == [IRCTag(key: "a"), IRCTag(key: "b", value: ""), IRCTag(key: "c", value: "x")])
    }

    @Test func tagValueMayContainEqualsSign() throws {
        #expect(try IRCMessageParser.parse("@a=b=c X").tags["a"]?.value == "b=c")
    }

    @Test func emptyTagEntriesAreSkipped() throws {
        #expect(try IRCMessageParser.parse("@;a=1;;b; PING x").tags == ["a": "1", "b": nil])
        #expect(try IRCMessageParser.parse("@ PING x").tags.isEmpty)
    }

    @Test func invalidTagKeysAreRejected() {
        #expect(throws: IRCParseError.invalidTagKey("a_b")) { try IRCMessageParser.parse("@a_b=1 X") }
        for key in ["=v", "a_b", "/x", "+", "vendor/", "ven_dor/x", "a.b", "é"] {
            #expect(throws: IRCParseError.self, "\(key)") { try IRCMessageParser.parse("@\(key) PING x") }
        }
    }

    @Test func multipleSpacesAndLeadingSpaces() throws {
        let message = try IRCMessageParser.parse("@a=1   :src   PRIVMSG    #c    :hi  there")
        #expect(message.tags == ["a": "1"])
        #expect(message.source?.nick == "src")
        #expect(message.params == ["#c", "hi  there"])
        #expect(try IRCMessageParser.parse("   PING x").params == ["x"])
    }

    @Test func commandsAreUppercasedAndNumericsParsed() throws {
        #expect(try IRCMessageParser.parse("privmsg #c :x").command == .verb("PRIVMSG"))
        #expect(try IRCMessageParser.parse("Nick alice").command.isVerb("nick"))
        #expect(try IRCMessageParser.parse(":s 001 alice :hi").command == .numeric(1))
        #expect(try IRCMessageParser.parse(":s 001 alice :hi").command == IRCCommand(.rplWelcome))
        #expect(try IRCMessageParser.parse("999").command.text == "999")
    }

    @Test func invalidCommands() {
        #expect(throws: IRCParseError.invalidCommand("PRIV-MSG")) { try IRCMessageParser.parse("PRIV-MSG #c :x") }
        #expect(throws: IRCParseError.invalidCommand("1234")) { try IRCMessageParser.parse("1234 x") }
        #expect(throws: IRCParseError.invalidCommand("12")) { try IRCMessageParser.parse("12 x") }
        #expect(throws: IRCParseError.invalidCommand("A1")) { try IRCMessageParser.parse("A1") }
        #expect(throws: IRCParseError.invalidCommand(":x")) { try IRCMessageParser.parse("@a=1 :src :x") }
    }

    @Test func structuralErrors() {
        #expect(throws: IRCParseError.emptyLine) { try IRCMessageParser.parse("") }
        #expect(throws: IRCParseError.emptyLine) { try IRCMessageParser.parse("    ") }
        #expect(throws: IRCParseError.missingCommand) { try IRCMessageParser.parse("@a=b") }
        #expect(throws: IRCParseError.missingCommand) { try IRCMessageParser.parse("@a=b   ") }
        #expect(throws: IRCParseError.missingCommand) { try IRCMessageParser.parse(":src") }
        #expect(throws: IRCParseError.missingCommand) { try IRCMessageParser.parse(":src   ") }
        #expect(throws: IRCParseError.emptySource) { try IRCMessageParser.parse(": PING x") }
        #expect(throws: IRCParseError.containsNUL) { try IRCMessageParser.parse([0x50, 0x00, 0x49]) }
        #expect(throws: IRCParseError.containsLineBreak) { try IRCMessageParser.parse("PING a\r\nQUIT") }
        #expect(throws: IRCParseError.containsLineBreak) { try IRCMessageParser.parse("PING a\nQUIT") }
    }

    @Test func fifteenthParamSwallowsTheRest() throws {
        let middles = (1...14).map { "p\($0)" }
        let message = try IRCMessageParser.parse("CMD " + middles.joined(separator: " ") + " p15 p16  p17")
        #expect(message.params.count == 15)
        #expect(message.params.last == "p15 p16  p17")
        let colon = try IRCMessageParser.parse("CMD " + middles.joined(separator: " ") + " :last one")
        #expect(colon.params.last == "last one")
        let tight = IRCMessageParser(limits: IRCMessageLimits(maxParams: 2))
        #expect(try tight.parse(Array("CMD a b c".utf8)).params == ["a", "b c"])
    }

    @Test func bodyLimitIs510Bytes() throws {
        let prefix = "PRIVMSG #c :"
        let fits = prefix + String(repeating: "x", count: 510 - prefix.utf8.count)
        #expect(try IRCMessageParser.parse(fits).params.last?.utf8.count == 510 - prefix.utf8.count)
        #expect(throws: IRCParseError.bodyTooLong(length: 511, limit: 510)) { try IRCMessageParser.parse(fits + "y") }
        // Tags do not count towards the 510.
        let tagged = "@msgid=" + String(repeating: "a", count: 4000) + " " + fits
        #expect(try IRCMessageParser.parse(tagged).tags["msgid"]?.value?.count == 4000)
    }

    @Test func tagSectionLimitIs8191Bytes() throws {
        // "@k=" + value + " " = 8191 bytes.
        let value = String(repeating: "v", count: 8191 - 4)
        #expect(try IRCMessageParser.parse("@k=\(value) PING x").tags["k"]?.value == value)
        #expect(throws: IRCParseError.tagsTooLong(length: 8192, limit: 8191)) {
            try IRCMessageParser.parse("@k=\(value)v PING x")
        }
    }

    @Test func invalidUTF8IsReplacedByDefault() throws {
        // "PRIVMSG #c :caf\xE9 \xFF" as sent by a Latin-1 client.
        let line: [UInt8] = Array("PRIVMSG #c :caf".utf8) + [0xE9, 0x20, 0xFF]
        let message = try IRCMessageParser.parse(line)
        #expect(message.params == ["#c", "caf\u{FFFD} \u{FFFD}"])
        // Tag values and sources are replaced too.
        let tagged: [UInt8] = Array("@a=".utf8) + [0xC3] + Array(" :n".utf8) + [0x80] + Array(" PING x".utf8)
        let parsed = try IRCMessageParser.parse(tagged)
        #expect(parsed.tags["a"]?.value == "\u{FFFD}")
        #expect(parsed.source?.nick == "n\u{FFFD}")
    }

    @Test func invalidUTF8CanBeRejected() throws {
        let strict = IRCMessageParser(invalidUTF8: .reject)
        #expect(throws: IRCParseError.invalidUTF8) { try strict.parse(Array("PRIVMSG #c :caf".utf8) + [0xE9]) }
        // Overlong encoding and surrogates are invalid UTF-8 too.
        #expect(throws: IRCParseError.invalidUTF8) { try strict.parse(Array("PING ".utf8) + [0xC0, 0xAF]) }
        #expect(throws: IRCParseError.invalidUTF8) { try strict.parse(Array("PING ".utf8) + [0xED, 0xA0, 0x80]) }
        #expect(throws: IRCParseError.invalidUTF8) { try strict.parse(Array("PING ".utf8) + [0xF4, 0x90, 0x80, 0x80]) }
        #expect(throws: IRCParseError.invalidUTF8) { try strict.parse(Array("PING ".utf8) + [0xE2, 0x98]) }
        #expect(try strict.parse(Array("PRIVMSG #c :café ☕ 𝄞".utf8)).params == ["#c", "café ☕ 𝄞"])
    }

    @Test func acceptsByteSequencesOtherThanArrays() throws {
        let bytes = Array("PING :x y".utf8)
        #expect(try IRCMessageParser.parse(bytes[...]).params == ["x y"])
        #expect(try IRCMessageParser.parse("PING :x y".utf8).params == ["x y"])
    }
}
