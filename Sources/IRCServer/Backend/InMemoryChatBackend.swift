import Crypto
import Foundation
import Synchronization

/// The backend of `pearircd --standalone`: a plain local IRC server. It keeps channel history in memory (for
/// CHATHISTORY and conformance tests), has no remote users, and accepts SASL accounts given at start.
public final class InMemoryChatBackend: ChatBackend {
    /// History per channel name or private conversation key (`PrivateConversation`), oldest first.
    private let state = Mutex<[String: [ChatLine]]>([:])
    private struct Conversations {
        /// Participant → the conversations they are in.
        var byParticipant: [String: Set<String>] = [:]
        /// Conversation → participant → their nick in its latest message.
        var names: [String: [String: String]] = [:]
    }

    private let conversations = Mutex(Conversations())
    private let accounts: [String: String]
    /// Accounts made with REGISTER while running (name → password; kept in memory only, as the history is).
    private let registered = Mutex<[String: String]>([:])
    /// A file of `NAME:PASSWORD` lines read at every SASL PLAIN attempt, so accounts can be added while running.
    private let accountsFile: String?
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
    ///   - accountsFile: more SASL PLAIN accounts, `NAME:PASSWORD` per line, read afresh at every attempt.
    public init(
        accounts: [String: String] = [:], accountsFile: String? = nil, certificates: [String: String] = [:],
        historyLimit: Int = 10_000
    ) {
        self.accounts = accounts
        self.accountsFile = accountsFile
        self.certificates = Dictionary(
            certificates.map { (Self.normalisedFingerprint($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.historyLimit = historyLimit
        (events, continuation) = AsyncStream.makeStream()
    }

    public func handle(_ request: BackendRequest) async {
        switch request {
        case .message(let channel, let nick, let kind, let text, let id, let time):
            append(ChatLine(id: id, time: time, channel: channel, source: nick, kind: kind, text: text), under: channel)
        case .directMessage(let conversation, let sender, let recipient, let nick, let target, let kind, let text, let id, let time):
            conversations.withLock { conversations in
                conversations.byParticipant[sender, default: []].insert(conversation)
                conversations.byParticipant[recipient, default: []].insert(conversation)
                // The names each side had most recently: TARGETS shows the other side by its latest nick.
                conversations.names[conversation, default: [:]][sender] = nick
                conversations.names[conversation, default: [:]][recipient] = target
            }
            append(ChatLine(id: id, time: time, channel: target, source: nick, kind: kind, text: text), under: conversation)
        default:
            break
        }
    }

    private func append(_ line: ChatLine, under key: String) {
        state.withLock { history in
            // Appended in place: copying the lines out and back would copy them all on every message.
            history[key, default: []].append(line)
            // Trimmed in slices of a quarter of the limit, so the shift is paid once per many appends.
            if let count = history[key]?.count, count > historyLimit + historyLimit / 4 {
                history[key]?.removeFirst(count - historyLimit)
            }
        }
    }

    public func historyTargets(_ query: HistoryTargetsQuery) async -> [HistoryTarget] {
        let (keys, names) = conversations.withLock { conversations in
            (conversations.byParticipant[query.participant] ?? [], conversations.names)
        }
        let latest = state.withLock { history -> [HistoryTarget] in
            var found: [HistoryTarget] = []
            for channel in query.channels {
                if let last = history[channel]?.last { found.append(HistoryTarget(name: channel, latest: last.time)) }
            }
            for key in keys {
                guard let last = history[key]?.last, let sides = names[key] else { continue }
                // The other participant (or oneself, for notes to self).
                let other = sides.first { $0.key != query.participant }?.value ?? sides[query.participant] ?? key
                found.append(HistoryTarget(name: other, latest: last.time))
            }
            return found
        }
        return query.select(latest)
    }

    public func history(_ query: HistoryQuery) async -> [ChatLine] {
        let lines = state.withLock { $0[query.channel] ?? [] }
        return HistoryWindow.select(query, from: lines)
    }

    /// SCRAM-SHA-256 for the PLAIN accounts: derived from the password at each attempt, with a salt fixed per account
    /// name (a standalone server keeps passwords in the clear anyway: `--sasl-account`).
    public func scramCredentials(for account: String) async -> SCRAMCredentials? {
        guard let password = password(of: account) else { return nil }
        let salt = Array(SHA256.hash(data: Array("pearircd standalone SCRAM salt \(account)".utf8)).prefix(SCRAMCredentials.saltLength))
        return try? SCRAMCredentials.derive(password: Array(password.utf8), salt: salt, iterations: 4096)
    }

    public func authenticate(_ credentials: SASLCredentials) async -> AccountLogin? {
        switch credentials {
        case .plain(let user, let password):
            guard let expected = self.password(of: user), Self.equalInConstantTime(Array(expected.utf8), Array(password.utf8))
            else { return nil }
            return AccountLogin(account: user)
        case .external(let fingerprint, let identity):
            guard let account = certificates[Self.normalisedFingerprint(fingerprint)] else { return nil }
            // A client may name the account it wants; the certificate must belong to that very account.
            if let identity, identity != account { return nil }
            return AccountLogin(account: account)
        case .scram(let account):
            return password(of: account) == nil ? nil : AccountLogin(account: account)
        }
    }

    /// REGISTER (offered with `--allow-registration`): an account kept in memory until the server stops.
    public func register(account: String, email: String?, password: String) async -> AccountRegistrationOutcome {
        guard !account.isEmpty, !account.contains(":") else { return .badAccountName("an account name cannot be empty or hold a colon") }
        guard !password.isEmpty else { return .unacceptablePassword("a password cannot be empty") }
        let exists = accounts[account] != nil || fileAccounts()[account] != nil
        let made = registered.withLock { registered in
            guard !exists, registered[account] == nil else { return false }
            registered[account] = password
            return true
        }
        return made ? .registered(AccountLogin(account: account)) : .accountExists
    }

    private func password(of account: String) -> String? {
        accounts[account] ?? registered.withLock { $0[account] } ?? fileAccounts()[account]
    }

    /// The accounts file's `NAME:PASSWORD` lines (a missing or unreadable file has none; malformed lines are skipped).
    private func fileAccounts() -> [String: String] {
        guard let accountsFile, let text = try? String(contentsOfFile: accountsFile, encoding: .utf8) else { return [:] }
        var found: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, !parts[0].isEmpty { found[String(parts[0])] = String(parts[1]) }
        }
        return found
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

    public func service(_ name: String, from nick: String, account: String?, text: String) async -> [String]? {
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
    public static func milliseconds(_ date: Date) -> Int64 {
        // Rounded to the nearest millisecond, as the `time` tag was formatted.
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
