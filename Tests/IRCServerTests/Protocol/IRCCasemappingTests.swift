import IRCServer
import Testing

@Suite struct IRCCasemappingTests {
    @Test func asciiFoldsOnlyLetters() {
        #expect(IRCCasemapping.ascii.fold("NiCK[]\\~") == "nick[]\\~")
        #expect(IRCCasemapping.ascii.equals("Alice", "aLICE"))
        #expect(!IRCCasemapping.ascii.equals("a[b]", "a{b}"))
    }

    @Test func rfc1459FoldsScandinavianBrackets() {
        #expect(IRCCasemapping.rfc1459.fold("NiCK[]\\~") == "nick{}|^")
        #expect(IRCCasemapping.rfc1459.equals("foo[bar]", "FOO{BAR}"))
        #expect(IRCCasemapping.rfc1459.equals("a\\b~", "A|B^"))
    }

    @Test func rfc1459StrictLeavesTilde() {
        #expect(IRCCasemapping.rfc1459Strict.fold("NiCK[]\\~") == "nick{}|~")
        #expect(!IRCCasemapping.rfc1459Strict.equals("a~", "a^"))
        #expect(IRCCasemapping.rfc1459Strict.equals("#Chan[1]", "#chan{1}"))
    }

    @Test func nonASCIIIsComparedExactly() {
        for mapping in IRCCasemapping.allCases {
            #expect(mapping.fold("#Café") == "#café")
            #expect(!mapping.equals("#É", "#é"))
            #expect(!mapping.equals("abc", "abcd"))
        }
    }

    @Test func tokens() {
        #expect(IRCCasemapping.allCases.map(\.token) == ["ascii", "rfc1459", "rfc1459-strict"])
        #expect(IRCCasemapping(rawValue: "rfc1459-strict") == .rfc1459Strict)
    }

    @Test func foldIsIdempotentAndAgreesWithEquals() {
        let samples = ["Alice", "ALICE", "al[i]ce", "AL{I}CE", "x\\y~", "X|Y^", "#Room", "#room", "é"]
        for mapping in IRCCasemapping.allCases {
            for a in samples {
                #expect(mapping.fold(mapping.fold(a)) == mapping.fold(a))
                for b in samples {
                    #expect(mapping.equals(a, b) == (mapping.fold(a) == mapping.fold(b)), "\(mapping) \(a) \(b)")
                }
            }
        }
    }
}
