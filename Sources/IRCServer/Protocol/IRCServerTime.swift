import Foundation

/// The IRCv3 `server-time` tag value: UTC, millisecond precision, `YYYY-MM-DDThh:mm:ss.sssZ`; and the readable
/// form of the time numerics (`readable`).
///
/// Formatted by hand because it is written for every delivered line: building an `ISO8601DateFormatter` per call
/// cost a tenth of the server's time under load, and a shared one is not `Sendable`.
public enum IRCServerTime {
    public static func format(_ date: Date) -> String {
        // Rounded to the nearest millisecond, as history references by timestamp are compared (HistoryWindow).
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (days, dayMilliseconds) = floorDivide(totalMilliseconds, 86_400_000)
        let (year, month, day) = civil(fromDaysSinceEpoch: days)
        let seconds = dayMilliseconds / 1000
        var text = ""
        text.reserveCapacity(24)
        append(&text, year, width: 4)
        text += "-"
        append(&text, month, width: 2)
        text += "-"
        append(&text, day, width: 2)
        text += "T"
        append(&text, seconds / 3600, width: 2)
        text += ":"
        append(&text, seconds / 60 % 60, width: 2)
        text += ":"
        append(&text, seconds % 60, width: 2)
        text += "."
        append(&text, dayMilliseconds % 1000, width: 3)
        text += "Z"
        return text
    }

    private static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    private static let months = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
        "December",
    ]

    /// The readable UTC form of RPL_TIME, RPL_CREATED and WHOWAS, e.g. `Thursday December 3 2026 -- 07:58:27 UTC`
    /// (whole seconds, rounded down). By hand too: a `DateFormatter` loads ICU's locale and calendar data, megabytes
    /// of resident memory for a server that needs English names in UTC only.
    public static func readable(_ date: Date) -> String {
        let (days, daySeconds) = floorDivide(Int64(date.timeIntervalSince1970.rounded(.down)), 86_400)
        let (year, month, day) = civil(fromDaysSinceEpoch: days)
        // 1970-01-01 was a Thursday.
        let weekday = Int(floorDivide(days + 4, 7).1)
        var text = "\(weekdays[weekday]) \(months[Int(month) - 1]) \(day) \(year) -- "
        append(&text, daySeconds / 3600, width: 2)
        text += ":"
        append(&text, daySeconds / 60 % 60, width: 2)
        text += ":"
        append(&text, daySeconds % 60, width: 2)
        return text + " UTC"
    }

    /// Reads an RFC 3339 / ISO 8601 internet date-time as CHATHISTORY's `timestamp=` references carry it:
    /// `YYYY-MM-DDThh:mm:ss`, an optional fraction of a second, then `Z` or an offset `±hh:mm`. Nil for anything
    /// else. By hand, as `format`: `ISO8601DateFormatter` loads ICU data the first time it is used.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int64? {
            guard index + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + width] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += width
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard index < bytes.count, bytes[index] == character.asciiValue else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("T") || expect("t"), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
            let second = number(2), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if expect(".") {
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offsetSeconds: Int64 = 0
        if !(expect("Z") || expect("z")) {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else {
                return nil
            }
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = number(2), offsetHours < 24 else { return nil }
            _ = expect(":")
            guard let offsetMinutes = number(2), offsetMinutes < 60 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.count else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Howard Hinnant's `days_from_civil`: the inverse of `civil(fromDaysSinceEpoch:)`.
    private static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }

    /// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count since 1970-01-01.
    private static func civil(fromDaysSinceEpoch days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func append(_ text: inout String, _ value: Int64, width: Int) {
        let digits = String(value)
        if digits.count < width { text += String(repeating: "0", count: width - digits.count) }
        text += digits
    }
}
