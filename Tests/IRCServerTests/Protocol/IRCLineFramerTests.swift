import IRCServer
import TestVectors
import Testing

@Suite struct IRCLineFramerTests {
    private func lines(_ events: [IRCLineFramer.Event]) -> [String] {
        events.map {
            switch $0 {
            case .line(let bytes): return String(decoding: bytes, as: UTF8.self)
            case .oversizedLine: return "<oversized>"
            }
        }
    }

    @Test func crlfBareLfAndBareCrAllEndALine() {
        var framer = IRCLineFramer()
        #expect(lines(framer.feed(Array("NICK a\r\nUSER u 0 * :r\nPING x\rPONG y\r\n".utf8)))
            == ["NICK a", "USER u 0 * :r", "PING x", "PONG y"])
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func crlfSplitAcrossFeedsIsOneTerminator() {
        var framer = IRCLineFramer()
        #expect(lines(framer.feed(Array("PING a\r".utf8))) == ["PING a"])
        #expect(lines(framer.feed(Array("\nPING b\r".utf8))) == ["PING b"])
        #expect(lines(framer.feed(Array("\n".utf8))).isEmpty)
        #expect(lines(framer.feed(Array("PING c\n".utf8))) == ["PING c"])
    }

    @Test func partialLinesWaitForTheirTerminator() {
        var framer = IRCLineFramer()
        #expect(framer.feed(Array("PRIV".utf8)).isEmpty)
        #expect(framer.bufferedByteCount == 4)
        #expect(lines(framer.feed(Array("MSG #c :hi\r\nJO".utf8))) == ["PRIVMSG #c :hi"])
        #expect(framer.finish() == Array("JO".utf8))
        #expect(framer.finish() == nil)
    }

    @Test func byteByByteFeedingGivesTheSameLines() {
        let stream = Array("A 1\r\n\r\n\nB 2\rC 3\n\r\nD 4\r\n".utf8)
        var whole = IRCLineFramer()
        var single = IRCLineFramer()
        let all = whole.feed(stream)
        let piecewise = stream.flatMap { single.feed([$0]) }
        #expect(all == piecewise)
        #expect(lines(all) == ["A 1", "B 2", "C 3", "D 4"])
    }

    @Test func emptyLinesAreDropped() {
        var framer = IRCLineFramer()
        #expect(framer.feed(Array("\r\n\r\n\n\r\r".utf8)).isEmpty)
    }

    @Test func oversizedLineIsReportedOnceAndSkippedToTheNextNewline() {
        var framer = IRCLineFramer(maxLineLength: 8)
        #expect(lines(framer.feed(Array("12345678\n".utf8))) == ["12345678"])
        #expect(lines(framer.feed(Array("123456789".utf8))) == ["<oversized>"])
        #expect(framer.isDiscarding)
        #expect(framer.bufferedByteCount == 0)
        #expect(framer.feed(Array(repeating: UInt8(ascii: "x"), count: 100_000)).isEmpty)
        #expect(framer.bufferedByteCount == 0)
        #expect(lines(framer.feed(Array("tail\r\nPING ok\r\n".utf8))) == ["PING ok"])
        #expect(!framer.isDiscarding)
        #expect(lines(framer.feed(Array("aaaaaaaaaaaa\nb\n".utf8))) == ["<oversized>", "b"])
        #expect(framer.finish() == nil)
    }

    @Test func oversizedLineIsNotDeliveredAtFinish() {
        var framer = IRCLineFramer(maxLineLength: 4)
        _ = framer.feed(Array("abcdefgh".utf8))
        #expect(framer.finish() == nil)
        #expect(lines(framer.feed(Array("ab\n".utf8))) == ["ab"])
    }

    @Test func defaultLimitFitsTheLongestParsableLine() throws {
        #expect(IRCLineFramer().maxLineLength == 8191 + 510)
        let tag = "@k=" + String(repeating: "v", count: 8191 - 4) + " "
        let body = "PRIVMSG #c :" + String(repeating: "x", count: 510 - 12)
        var framer = IRCLineFramer()
        let events = framer.feed(Array((tag + body + "\r\n").utf8))
        guard case .line(let line)? = events.first, events.count == 1 else {
            Issue.record("expected one line, got \(events.count) events")
            return
        }
        #expect(try IRCMessageParser.parse(line).params.last?.count == 498)
    }

    @Test func nulPassesThroughAndTheParserRefusesIt() {
        var framer = IRCLineFramer()
        let events = framer.feed([UInt8(ascii: "P"), 0, UInt8(ascii: "Q"), UInt8(ascii: "\n")])
        #expect(events == [.line([UInt8(ascii: "P"), 0, UInt8(ascii: "Q")])])
        if case .line(let line)? = events.first {
            #expect(throws: IRCParseError.containsNUL) { try IRCMessageParser.parse(line) }
        }
    }

    /// The framer's rules written the slowest, plainest way: one byte at a time.
    private struct ReferenceFramer {
        let limit: Int
        var buffer: [UInt8] = []
        var discarding = false
        var lastWasCR = false

        mutating func feed(_ bytes: [UInt8]) -> [IRCLineFramer.Event] {
            var events: [IRCLineFramer.Event] = []
            for byte in bytes {
                if byte == 0x0D || byte == 0x0A {
                    let skip = byte == 0x0A && lastWasCR
                    lastWasCR = byte == 0x0D
                    if skip { continue }
                    if discarding {
                        discarding = false
                    } else if !buffer.isEmpty {
                        events.append(.line(buffer))
                        buffer = []
                    }
                    continue
                }
                lastWasCR = false
                if discarding { continue }
                if buffer.count >= limit {
                    buffer = []
                    discarding = true
                    events.append(.oversizedLine)
                    continue
                }
                buffer.append(byte)
            }
            return events
        }
    }

    @Test func agreesWithAByteAtATimeReferenceOnRandomStreams() {
        var rng = SeededGenerator(seed: 8)
        for limit in [1, 2, 7, 64] {
            var framer = IRCLineFramer(maxLineLength: limit)
            var reference = ReferenceFramer(limit: limit)
            for _ in 0..<2000 {
                let chunk = rng.bytes(Int.random(in: 0...40, using: &rng)).map {
                    $0 < 48 ? ($0 < 24 ? UInt8(ascii: "\n") : UInt8(ascii: "\r")) : $0
                }
                // Alternate array and non-contiguous input so both paths run.
                let events = Bool.random(using: &rng) ? framer.feed(chunk) : framer.feed(chunk.lazy.map { $0 })
                #expect(events == reference.feed(chunk), "limit \(limit)")
                #expect(framer.bufferedByteCount == reference.buffer.count)
            }
        }
    }
}
