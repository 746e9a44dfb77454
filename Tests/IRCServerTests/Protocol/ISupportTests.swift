import IRCServer
import Testing

@Suite struct ISupportTests {
    private func pearDefaults() -> ISupport {
        var support = ISupport()
        support.casemapping(.rfc1459)
        support.chanTypes("#&")
        support.chanModes(list: "b", alwaysParam: "k", setParam: "l", flags: "imnst")
        support.prefix(modes: "ov", symbols: "@+")
        support.nickLen(30)
        support.channelLen(64)
        support.topicLen(390)
        support.kickLen(390)
        support.awayLen(390)
        support.lineLen(512)
        support.monitor(limit: 100)
        support.chatHistory(limit: 1000)
        support.msgRefTypes(["msgid", "timestamp"])
        support.utf8Only()
        support.network("PearIRC")
        support.modes(4)
        support.chanLimit(prefixes: "#&", limit: nil)
        support.targMax([("PRIVMSG", 4), ("NOTICE", 4), ("JOIN", nil)])
        support.whox()
        return support
    }

    @Test func tokensAreWrittenAsTheSpecSays() {
        let support = pearDefaults()
        let texts = support.tokens.map(\.text)
        #expect(texts.contains("CASEMAPPING=rfc1459"))
        #expect(texts.contains("CHANMODES=b,k,l,imnst"))
        #expect(texts.contains("PREFIX=(ov)@+"))
        #expect(texts.contains("MONITOR=100"))
        #expect(texts.contains("CHATHISTORY=1000"))
        #expect(texts.contains("MSGREFTYPES=msgid,timestamp"))
        #expect(texts.contains("UTF8ONLY"))
        #expect(texts.contains("CHANLIMIT=#&:"))
        #expect(texts.contains("TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:"))
        #expect(support["NICKLEN"] == .some("30"))
        #expect(support["UTF8ONLY"] == .some(nil))
        #expect(support["NOPE"] == nil)
    }

    @Test func splitsAtThirteenTokensPerLine() throws {
        let support = pearDefaults()
        #expect(support.tokens.count == 19)
        let messages = try support.messages(server: "pear.local", nick: "alice")
        #expect(messages.count == 2)
        #expect(messages.map { $0.params.count - 2 } == [13, 6])
        for message in messages {
            #expect(message.command == .numeric(5))
            #expect(message.source?.nick == "pear.local")
            #expect(message.params.first == "alice")
            #expect(message.params.last == "are supported by this server")
            let encoded = try IRCMessageEncoder.encode(message)
            #expect(try IRCMessageParser.parse(encoded.dropLast(2)) == message)
        }
        let first = String(decoding: try IRCMessageEncoder.encode(messages[0]), as: UTF8.self)
        #expect(first.hasPrefix(":pear.local 005 alice CASEMAPPING=rfc1459 CHANTYPES=#& "))
        #expect(first.hasSuffix(" :are supported by this server\r\n"))
    }

    @Test func splitsByBytesWhenTokensAreLong() throws {
        var support = ISupport()
        for index in 0..<6 {
            try support.set("LONG\(index)", String(repeating: "v", count: 150))
        }
        let messages = try support.messages(server: "pear.local", nick: "alice")
        #expect(messages.count > 1)
        #expect(messages.flatMap { $0.params.dropFirst().dropLast() }.count == 6)
        for message in messages {
            #expect(try IRCMessageEncoder.encode(message).count <= 512)
        }
        var huge = ISupport()
        try huge.set("HUGE", String(repeating: "v", count: 600))
        #expect(throws: ISupport.Failure.tokenTooLong("HUGE")) { try huge.messages(server: "s", nick: "n") }
    }

    @Test func valuesAreEscapedAndNamesChecked() throws {
        var support = ISupport()
        try support.set("NETWORK", "Pear Net=\\x")
        #expect(support.tokens.map(\.text) == [#"NETWORK=Pear\x20Net\x3D\x5Cx"#])
        try support.set("NETWORK", "Pear")
        #expect(support.tokens.map(\.text) == ["NETWORK=Pear"])
        try support.negate("WHOX")
        #expect(support.tokens.map(\.text) == ["NETWORK=Pear", "-WHOX"])
        #expect(throws: ISupport.Failure.invalidName("lower")) { try support.set("lower") }
        #expect(throws: ISupport.Failure.invalidName("")) { try support.set("") }
        #expect(throws: ISupport.Failure.invalidName("A B")) { try support.negate("A B") }
        #expect(ISupport.escapeValue("a\r\nb") == #"a\x0D\x0Ab"#)
    }

    @Test func noTokensMeansNoLines() throws {
        #expect(try ISupport().messages(server: "s", nick: "n").isEmpty)
    }
}
