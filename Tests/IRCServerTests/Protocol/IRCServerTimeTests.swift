import Foundation
import IRCServer
import Testing

@Suite struct IRCServerTimeTests {
    static func reference(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    @Test func knownInstants() {
        #expect(IRCServerTime.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(IRCServerTime.format(Date(timeIntervalSince1970: 951_782_400.5)) == "2000-02-29T00:00:00.500Z")
        #expect(IRCServerTime.format(Date(timeIntervalSince1970: 1_795_000_000.123)) == "2026-11-18T11:06:40.123Z")
        #expect(IRCServerTime.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000Z")
    }

    /// Agrees with Foundation's ISO 8601 formatter over random instants from 1900 to 2200 (whole milliseconds, so
    /// the two cannot differ by rounding).
    @Test func agreesWithFoundation() {
        for milliseconds in Self.randomMilliseconds() {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(IRCServerTime.format(date) == Self.reference(date))
        }
    }

    /// 5,000 random whole-millisecond instants from 1900 to 2200, as milliseconds since 1970.
    static func randomMilliseconds() -> [Int64] {
        (0..<5000).map { _ in Int64.random(in: -2_208_988_800_000...7_258_118_400_000) }
    }

    static func readableReference(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEEE MMMM d yyyy -- HH:mm:ss 'UTC'"
        return formatter.string(from: date)
    }

    @Test func readableKnownInstants() {
        #expect(IRCServerTime.readable(Date(timeIntervalSince1970: 0)) == "Thursday January 1 1970 -- 00:00:00 UTC")
        #expect(IRCServerTime.readable(Date(timeIntervalSince1970: 951_782_400.9)) == "Tuesday February 29 2000 -- 00:00:00 UTC")
        #expect(IRCServerTime.readable(Date(timeIntervalSince1970: -1)) == "Wednesday December 31 1969 -- 23:59:59 UTC")
    }

    /// Agrees with Foundation's `DateFormatter` (the format pearircd used before) over random whole seconds from
    /// 1900 to 2200.
    @Test func readableAgreesWithFoundation() {
        for milliseconds in Self.randomMilliseconds() {
            let date = Date(timeIntervalSince1970: Double(milliseconds / 1000))
            #expect(IRCServerTime.readable(date) == Self.readableReference(date))
        }
    }

    @Test func parsesWhatItFormatsAndOffsets() {
        #expect(IRCServerTime.parse("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(IRCServerTime.parse("2000-02-29T00:00:00.500Z") == Date(timeIntervalSince1970: 951_782_400.5))
        #expect(IRCServerTime.parse("2026-11-18T12:06:40.123+01:00") == Date(timeIntervalSince1970: 1_795_000_000.123))
        #expect(IRCServerTime.parse("1969-12-31T23:59:59Z") == Date(timeIntervalSince1970: -1))
        for bad in ["", "2026-11-18", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-18T24:00:00Z",
            "2026-11-18T00:00:00", "2026-11-18T00:00:00.Z", "2026-11-18T00:00:00Zjunk", "2026-11-18 00:00:00Z",
            "２０２６-11-18T00:00:00Z", "2026-11-18T00:00:00+25:00"]
        {
            #expect(IRCServerTime.parse(bad) == nil, "\(bad)")
        }
    }

    /// Reads back what `format` writes, and agrees with Foundation's ISO 8601 parser (the one CHATHISTORY used
    /// before), over random instants from 1900 to 2200.
    @Test func parseAgreesWithFormatAndFoundation() {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for milliseconds in Self.randomMilliseconds() {
            let text = IRCServerTime.format(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            let parsed = IRCServerTime.parse(text)
            #expect(parsed.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } == milliseconds, "\(text)")
            #expect(parsed.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
                == parser.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }, "\(text)")
        }
    }
}
