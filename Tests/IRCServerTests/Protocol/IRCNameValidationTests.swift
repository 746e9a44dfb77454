import IRCServer
import Testing

@Suite struct IRCNameValidationTests {
    let rules = IRCNameValidation()

    @Test func validNicks() {
        for nick in ["alice", "Bob", "a1", "[away]", "`x`", "_under_", "^caret", "{br}", "pipe|x", "a-b", "\\o_"] {
            #expect(rules.isValidNick(nick), "\(nick)")
        }
        #expect(rules.isValidNick(String(repeating: "a", count: 30)))
    }

    @Test func invalidNicks() {
        #expect(throws: IRCNameValidation.NickError.empty) { try rules.validateNick("") }
        #expect(throws: IRCNameValidation.NickError.invalidFirstCharacter) { try rules.validateNick("1abc") }
        #expect(throws: IRCNameValidation.NickError.invalidFirstCharacter) { try rules.validateNick("-abc") }
        #expect(throws: IRCNameValidation.NickError.tooLong(length: 31, limit: 30)) {
            try rules.validateNick(String(repeating: "a", count: 31))
        }
        for (nick, byte) in [("a b", 0x20), ("a!b", 0x21), ("a@b", 0x40), ("a,b", 0x2C), ("a.b", 0x2E), ("#a", 0x23),
            ("a:b", 0x3A), ("a*", 0x2A), ("a\u{7}", 0x07)] as [(String, UInt8)]
        {
            #expect(throws: IRCNameValidation.NickError.invalidCharacter(byte), "\(nick)") {
                try rules.validateNick(nick)
            }
        }
        #expect(!rules.isValidNick("café"))
    }

    @Test func nickLengthIsConfigurable() {
        let short = IRCNameValidation(nickLength: 9)
        #expect(short.isValidNick("ninechars"))
        #expect(!short.isValidNick("tenchars10"))
    }

    @Test func validChannels() {
        for name in ["#rust", "&local", "#a", "#ünïcödé", "#c++", "#a:b", "##double"] {
            #expect(rules.isValidChannel(name), "\(name)")
        }
        #expect(rules.isValidChannel("#" + String(repeating: "c", count: 63)))
    }

    @Test func invalidChannels() {
        #expect(throws: IRCNameValidation.ChannelError.empty) { try rules.validateChannel("") }
        #expect(throws: IRCNameValidation.ChannelError.missingPrefix) { try rules.validateChannel("rust") }
        #expect(throws: IRCNameValidation.ChannelError.missingPrefix) { try rules.validateChannel("+modeless") }
        #expect(throws: IRCNameValidation.ChannelError.tooShort) { try rules.validateChannel("#") }
        #expect(throws: IRCNameValidation.ChannelError.tooLong(length: 65, limit: 64)) {
            try rules.validateChannel("#" + String(repeating: "c", count: 64))
        }
        for (name, byte) in [("#a b", 0x20), ("#a,b", 0x2C), ("#a\u{7}", 0x07), ("#a\u{0}", 0x00), ("#a\r", 0x0D),
            ("#a\n", 0x0A), ("#a\u{1B}[31m", 0x1B), ("#\u{1}ACTION", 0x01), ("#a\u{7F}", 0x7F), ("#\u{3}4color", 0x03)] as [(String, UInt8)]
        {
            #expect(throws: IRCNameValidation.ChannelError.invalidCharacter(byte)) { try rules.validateChannel(name) }
        }
    }

    @Test func channelTypesAreConfigurable() {
        let hashOnly = IRCNameValidation(channelLength: 10, channelTypes: "#")
        #expect(hashOnly.channelTypesToken == "#")
        #expect(!hashOnly.isValidChannel("&local"))
        #expect(hashOnly.looksLikeChannel("#x"))
        #expect(!hashOnly.looksLikeChannel("alice"))
        #expect(!hashOnly.looksLikeChannel(""))
        #expect(!hashOnly.isValidChannel("#0123456789"))
    }
}
