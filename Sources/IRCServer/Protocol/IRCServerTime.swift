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
