import IRCServer
import TestVectors
import Testing

@Suite struct IRCTagTests {
    @Test func keyValidation() {
        for key in ["a", "msgid", "+typing", "draft/reply", "+draft/react", "example.com/x-y", "+a.b-c/d1"] {
            #expect(IRCTag.isValidKey(key), "\(key)")
        }
        for key in ["", "+", "/", "a/", "/a", "a b", "a;b", "a=b", "a_b", "a.b", "+/x", "a/b/c", "ké"] {
            #expect(!IRCTag.isValidKey(key), "\(key)")
        }
    }

    @Test func escapeAndUnescapeAreInverse() {
        var rng = SeededGenerator(seed: 7)
        let pool = Array(";: \\\r\nsabc=é".utf8)
        for _ in 0..<500 {
            let count = Int.random(in: 0...20, using: &rng)
            let bytes = (0..<count).map { _ in pool[Int.random(in: 0..<pool.count, using: &rng)] }
            let value = String(decoding: bytes, as: UTF8.self)
            let escaped = IRCTag.escape(value)
            #expect(!escaped.utf8.contains { [0x20, 0x3B, 0x0D, 0x0A].contains($0) })
            #expect(IRCTag.unescape(Array(escaped.utf8)) == Array(value.utf8))
        }
    }

    @Test func unescapeEdgeCases() {
        func un(_ raw: String) -> String { String(decoding: IRCTag.unescape(Array(raw.utf8)), as: UTF8.self) }
        #expect(un(#"\\n"#) == "\\n")
        #expect(un(#"a\"#) == "a")
        #expect(un(#"\x\y"#) == "xy")
        #expect(un(#"\:\s\r\n\\"#) == "; \r\n\\")
        #expect(un("") == "")
    }

    @Test func tagsKeepOrderAndReplaceInPlace() {
        var tags: IRCTags = ["a": "1", "b": nil]
        tags.set("c", "3")
        tags.set("a", "9")
        #expect(tags.map(\.key) == ["a", "b", "c"])
        #expect(tags["a"]?.value == "9")
        tags.remove("b")
        #expect(tags.map(\.key) == ["a", "c"])
        tags.filter { !$0.isClientOnly && $0.key != "c" }
        #expect(tags == ["a": "9"])
        #expect(IRCTags([IRCTag(key: "x", value: "1"), IRCTag(key: "x", value: "2")]) == ["x": "2"])
        #expect(IRCTag(key: "+example.com/foo").vendor == "example.com")
        #expect(IRCTag(key: "example.com/foo").vendor == "example.com")
        #expect(IRCTag(key: "foo").vendor == nil)
    }
}
