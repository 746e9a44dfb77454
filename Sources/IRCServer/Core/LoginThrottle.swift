import Foundation

/// Failed logins slow the next ones down, per source address and per account (exponential back-off), so a password
/// cannot be guessed at the speed the hash allows: after `freeFailures` failures in a row, each further attempt
/// waits `2^(n - freeFailures)` seconds after the last failure, up to `maximumDelay`. A success clears the account's
/// count (not the address's: one right password does not excuse a scan). Bounded: past `maximumEntries` keys the
/// oldest are forgotten. A pure value; times come with the calls.
struct LoginThrottle: Sendable {
    static let freeFailures = 3
    static let maximumDelay: TimeInterval = 300
    static let maximumEntries = 4096

    private struct Record: Sendable {
        var failures: Int
        var last: Date
    }

    private var records: [String: Record] = [:]

    /// How many addresses and accounts are remembered.
    var entryCount: Int { records.count }

    static func addressKey(_ host: String) -> String { "address:" + host }
    static func accountKey(_ account: String) -> String { "account:" + account.lowercased() }
    /// Account registrations from an address (each counts as a failure would: `AccountRegistration.swift`).
    static func registrationKey(_ host: String) -> String { "register:" + host }

    /// How long until an attempt under these keys is let through (nil: now).
    func wait(for keys: [String], now: Date) -> TimeInterval? {
        let waits = keys.compactMap { key -> TimeInterval? in
            guard let record = records[key], record.failures >= Self.freeFailures else { return nil }
            let delay = min(Self.maximumDelay, pow(2, Double(record.failures - Self.freeFailures)))
            let remaining = record.last.addingTimeInterval(delay).timeIntervalSince(now)
            return remaining > 0 ? remaining : nil
        }
        return waits.max()
    }

    mutating func failed(_ keys: [String], at time: Date) {
        for key in keys {
            var record = records[key] ?? Record(failures: 0, last: time)
            record.failures += 1
            record.last = max(record.last, time)
            records[key] = record
        }
        if records.count > Self.maximumEntries {
            // The longest quiet go first (the least likely to be under attack now), a tenth at a time, so a stream of
            // new addresses does not sort the table at every failure.
            let excess = records.count - Self.maximumEntries * 9 / 10
            for key in records.sorted(by: { $0.value.last < $1.value.last }).prefix(excess).map(\.key) {
                records[key] = nil
            }
        }
    }

    mutating func succeeded(account key: String) {
        records[key] = nil
    }
}
