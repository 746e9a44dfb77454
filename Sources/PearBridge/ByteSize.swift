import Foundation

/// A size in bytes as a person writes it in an option or `pearircd.conf`: `524288`, `512K`, `2M`, `1G` (binary
/// multiples, any case, an optional `B` or `iB` after the letter).
public struct ByteSize: Hashable, Sendable, CustomStringConvertible {
    public let bytes: Int

    public init(bytes: Int) {
        self.bytes = bytes
    }

    /// nil for anything else: empty, negative, fractional, an unknown unit, or past `Int.max`.
    public init?(_ text: String) {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces)).lowercased()[...]
        for suffix in ["ib", "b"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits = digits.dropLast(suffix.count)
            break
        }
        var multiplier = 1
        if let unit = digits.last, let shift = ["k": 10, "m": 20, "g": 30][String(unit)] {
            multiplier = 1 << shift
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let number = Int(digits), number >= 0 else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        self.bytes = bytes
    }

    public var description: String {
        for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes)"
    }
}
