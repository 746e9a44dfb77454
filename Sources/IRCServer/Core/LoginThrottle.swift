import Foundation

/// Failed logins slow the next ones down, per source address and per account (exponential back-off), so a password
/// cannot be guessed at the speed the hash allows: after `freeFailures` failures in a row, each further attempt
/// waits `2^(n - freeFailures)` seconds after the last failure, up to `maximumDelay`. A success clears the account's
/// count (not the address's: one right password does not excuse a scan). Bounded: past `maximumEntries` keys the
/// oldest are forgotten. A pure value; times come with the calls.
///
/// The account's back-off does not hold back the addresses the account logged in from lately (`trustedAddresses`):
/// anyone can fail logins to an account from anywhere, and so, without this, lock its owner out; the owner's own
/// addresses still back off on their own failures (the address's count).
struct LoginThrottle: Sendable {
    static let freeFailures = 3
    static let maximumDelay: TimeInterval = 300
    static let maximumEntries = 4096

    private struct Record: Sendable {
        var failures: Int
        var last: Date
    }

    private var records: [String: Record] = [:]
    /// Account key → the addresses it last logged in from, most recent last.
    private var trusted: [String: [String]] = [:]
    static let trustedAddressesPerAccount = 8

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

    /// How long until a login to `account` from `address` is let through (nil: now): the address's back-off, and the
    /// account's unless the account logged in from this address lately.
    func wait(address: String, account: String, now: Date) -> TimeInterval? {
        let accountKey = Self.accountKey(account), addressKey = Self.addressKey(address)
        let isTrusted = trusted[accountKey]?.contains(addressKey) == true
        return wait(for: isTrusted ? [addressKey] : [addressKey, accountKey], now: now)
    }

    /// A login to `account` from `address` succeeded: the account's count is cleared and the address trusted for it.
    mutating func succeeded(account: String, address: String) {
        let accountKey = Self.accountKey(account), addressKey = Self.addressKey(address)
        records[accountKey] = nil
        var addresses = trusted[accountKey, default: []].filter { $0 != addressKey }
        addresses.append(addressKey)
        trusted[accountKey] = Array(addresses.suffix(Self.trustedAddressesPerAccount))
        if trusted.count > Self.maximumEntries, let any = trusted.keys.first(where: { $0 != accountKey }) {
            trusted[any] = nil
        }
    }
}
