import Foundation
import Synchronization

/// The backend of `pearircd --standalone`: a plain local IRC server. It keeps channel history in memory (for
/// CHATHISTORY and conformance tests), has no remote users, and accepts SASL accounts given at start.
public final class InMemoryChatBackend: ChatBackend {
    private let state = Mutex<[String: [ChatLine]]>([:])
    private let accounts: [String: String]
    /// Normalised certificate fingerprint → account, for SASL EXTERNAL.
    private let certificates: [String: String]
    private let historyLimit: Int
    public let events: AsyncStream<BackendEvent>
    private let continuation: AsyncStream<BackendEvent>.Continuation

    /// - Parameters:
    ///   - accounts: SASL PLAIN accounts, name → password.
    ///   - certificates: SASL EXTERNAL accounts, TLS client certificate SHA-256 fingerprint → account name (hex, any
    ///     case, colons allowed).
    ///   - historyLimit: lines kept per channel (the oldest are dropped in slices, so up to a quarter more wait).
    public init(accounts: [String: String] = [:], certificates: [String: String] = [:], historyLimit: Int = 10_000) {
        self.accounts = accounts
        self.certificates = Dictionary(
            certificates.map { (Self.normalisedFingerprint($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.historyLimit = historyLimit
        (events, continuation) = AsyncStream.makeStream()
    }

    public func handle(_ request: BackendRequest) async {
        guard case .message(let channel, let nick, let kind, let text, let id, let time) = request else { return }
        state.withLock { history in
            // Appended in place: copying the channel's lines out and back would copy them all on every message.
            history[channel, default: []].append(ChatLine(id: id, time: time, channel: channel, source: nick, kind: kind, text: text))
            // Trimmed in slices of a quarter of the limit, so the shift is paid once per many appends.
            if let count = history[channel]?.count, count > historyLimit + historyLimit / 4 {
                history[channel]?.removeFirst(count - historyLimit)
            }
        }
    }

    public func history(_ query: HistoryQuery) async -> [ChatLine] {
        let lines = state.withLock { $0[query.channel] ?? [] }
        return HistoryWindow.select(query, from: lines)
    }

    public func authenticate(_ credentials: SASLCredentials) async -> String? {
        switch credentials {
        case .plain(let user, let password):
            guard let expected = accounts[user], Self.equalInConstantTime(Array(expected.utf8), Array(password.utf8))
            else { return nil }
            return user
        case .external(let fingerprint, let identity):
            guard let account = certificates[Self.normalisedFingerprint(fingerprint)] else { return nil }
            // A client may name the account it wants; the certificate must belong to that very account.
            if let identity, identity != account { return nil }
            return account
        }
    }

    /// Lowercase hex without separators, the form `SASLCredentials.external` carries.
    public static func normalisedFingerprint(_ text: String) -> String {
        text.lowercased().filter { $0 != ":" }
    }

    /// Compares without an early exit, so the time taken does not tell how much of a password was right.
    static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    public func service(_ name: String, from nick: String, text: String) async -> [String]? {
        nil
    }

    /// Injects a backend event (tests use it to simulate remote users).
    public func emit(_ event: BackendEvent) {
        continuation.yield(event)
    }
}

/// CHATHISTORY selection over lines held oldest first.
public enum HistoryWindow {
    public static func select(_ query: HistoryQuery, from lines: [ChatLine]) -> [ChatLine] {
        func position(_ reference: HistoryReference) -> (index: Int, exact: Bool)? {
            switch reference {
            case .messageID(let id):
                return lines.firstIndex { $0.id == id }.map { ($0, true) }
            case .timestamp(let time):
                let wanted = milliseconds(time)
                return (
                    lines.firstIndex { milliseconds($0.time) >= wanted } ?? lines.count,
                    lines.contains { milliseconds($0.time) == wanted }
                )
            }
        }
        switch query {
        case .latest(_, let limit):
            return Array(lines.suffix(max(0, limit)))
        case .before(_, let reference, let limit):
            guard let (index, _) = position(reference) else { return [] }
            return Array(lines[..<index].suffix(max(0, limit)))
        case .after(_, let reference, let limit):
            guard let (index, exact) = position(reference) else { return [] }
            let start = exact && index < lines.count && matches(lines[index], reference) ? index + 1 : index
            return Array(lines[start...].prefix(max(0, limit)))
        case .around(_, let reference, let limit):
            guard let (index, _) = position(reference) else { return [] }
            let half = max(0, limit) / 2
            let start = max(0, index - half)
            return Array(lines[start...].prefix(max(0, limit)))
        case .between(_, let from, let to, let limit):
            guard let (a, _) = position(from), let (b, _) = position(to) else { return [] }
            let low = min(a, b), high = max(a, b)
            let exclusiveLow = low < lines.count && (matches(lines[low], from) || matches(lines[low], to)) ? low + 1 : low
            guard exclusiveLow <= high else { return [] }
            let window = lines[exclusiveLow..<high]
            return a <= b ? Array(window.prefix(max(0, limit))) : Array(window.suffix(max(0, limit)))
        }
    }

    private static func matches(_ line: ChatLine, _ reference: HistoryReference) -> Bool {
        switch reference {
        case .messageID(let id): line.id == id
        case .timestamp(let time): milliseconds(line.time) == milliseconds(time)
        }
    }

    /// Timestamps on the wire (`server-time`) have millisecond precision, so references compare at that precision:
    /// `timestamp=…` names the line whose `time` tag showed it.
    static func milliseconds(_ date: Date) -> Int64 {
        // Rounded to the nearest millisecond, as the `time` tag was formatted.
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
