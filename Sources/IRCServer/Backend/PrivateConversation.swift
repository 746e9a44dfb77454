import Foundation

/// How private messages are filed for CHATHISTORY: one conversation per pair of participants.
///
/// A participant is `account:<folded account>` when logged in, else `nick:<folded nick>`: history follows accounts
/// across nick changes and reconnections, and a conversation held while unauthenticated stays with that nick (a
/// later login under the same name does not inherit it). The key is `=` followed by the two participants sorted and
/// joined with a space; `=` starts no channel name, so keys and channels share the backend's history store.
public enum PrivateConversation {
    public static func participant(account: String?, nick: String, fold: (String) -> String) -> String {
        if let account { return "account:" + fold(account) }
        return "nick:" + fold(nick)
    }

    public static func key(_ a: String, _ b: String) -> String {
        "=" + [a, b].sorted().joined(separator: " ")
    }

    /// The history key of a conversation with a remote person (`IRCServerConfiguration.carriesRemotePrivateMessages`):
    /// `=@id:<user id>/<target as written>` when the server knows them (ids hold no `/`), else `=@target:<target>`.
    public static func remoteKey(userID: String?, target: String) -> String {
        if let userID { return "=@id:" + userID + "/" + target }
        return "=@target:" + target
    }

    /// The remote user id (if known) and the target as the client wrote it that a `remoteKey` names; nil for other
    /// keys.
    public static func remoteTarget(of key: String) -> (userID: String?, target: String)? {
        if key.hasPrefix("=@id:") {
            let rest = key.dropFirst(5)
            guard let slash = rest.firstIndex(of: "/") else { return (String(rest), "") }
            return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
        }
        if key.hasPrefix("=@target:") { return (nil, String(key.dropFirst(9))) }
        return nil
    }

    /// Whether a history key names a private conversation rather than a channel.
    public static func isConversation(_ key: String) -> Bool {
        key.hasPrefix("=")
    }
}

/// CHATHISTORY TARGETS: which channels and private conversations of a participant had their latest message
/// strictly between two instants.
public struct HistoryTargetsQuery: Sendable, Hashable {
    /// Channels the client is in (their history is visible to it).
    public var channels: [String]
    /// The client as a `PrivateConversation` participant.
    public var participant: String
    public var from: Date
    public var to: Date
    public var limit: Int

    public init(channels: [String], participant: String, from: Date, to: Date, limit: Int) {
        self.channels = channels
        self.participant = participant
        self.from = from
        self.to = to
        self.limit = limit
    }

    /// The answer among `candidates` (each target with its latest message): those strictly inside the window, at
    /// most `limit` counted from `from` — so with `from` after `to` the most recent ones — earliest first.
    public func select(_ candidates: [HistoryTarget]) -> [HistoryTarget] {
        let low = min(HistoryWindow.milliseconds(from), HistoryWindow.milliseconds(to))
        let high = max(HistoryWindow.milliseconds(from), HistoryWindow.milliseconds(to))
        let inside = candidates
            .filter { HistoryWindow.milliseconds($0.latest) > low && HistoryWindow.milliseconds($0.latest) < high }
            .sorted { ($0.latest, $0.name) < ($1.latest, $1.name) }
        let count = max(0, limit)
        return from > to ? Array(inside.suffix(count)) : Array(inside.prefix(count))
    }
}

/// One CHATHISTORY TARGETS answer: a channel name or the other participant's nick, and its latest message time.
public struct HistoryTarget: Sendable, Hashable {
    public var name: String
    public var latest: Date

    public init(name: String, latest: Date) {
        self.name = name
        self.latest = latest
    }
}
