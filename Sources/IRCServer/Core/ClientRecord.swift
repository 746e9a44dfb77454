import Foundation

/// One client as the server state sees it: a local connection or a remote user standing in a channel.
struct ClientRecord: Sendable {
    let id: ClientID
    var host: String
    var secure: Bool
    var certificateFingerprint: String?
    var connectedAt: Date
    var lastActivity: Date
    var pingSentAt: Date?

    var nick: String?
    var user: String?
    var realName: String?
    var isRegistered = false
    /// CAP negotiation holds registration until CAP END.
    var capNegotiating = false
    var capVersion = 301
    var caps = Set<String>()
    var account: String?
    var saslInProgress: String?
    var saslBuffer = ""
    /// Late answers (SASL, history, OPER, services) a command of this client still waits for; its further lines
    /// are held meanwhile (`DeferredAnswers.swift`).
    var awaitingAnswers = 0
    var awaitingSince: Date?
    var heldLines: [HeldLine] = []
    /// The label of the command waiting for late answers, and its replies so far (labeled-response).
    var pendingLabel: String?
    var pendingReplies: [IRCServerAction] = []
    /// Flood control; nil for exempt connections.
    var flood: FloodBucket?
    var away: String?
    var isOperator = false
    var invisible = false
    /// User mode `w`: receives WALLOPS.
    var wallops = false
    /// Nicks this client MONITORs, folded, in the order added.
    var monitoring: [String] = []
    var joinedChannels = Set<String>()

    /// A remote user (no connection): messages are never sent to them.
    var isRemote = false
    var remoteID: String?
    var whoisInfo: [String] = []

    init(id: ClientID, host: String, secure: Bool, certificateFingerprint: String?, connectedAt: Date) {
        self.id = id
        self.host = host
        self.secure = secure
        self.certificateFingerprint = certificateFingerprint
        self.connectedAt = connectedAt
        self.lastActivity = connectedAt
    }

    var mask: String { "\(nick ?? "*")!\(user ?? "*")@\(host)" }

    var source: IRCSource { IRCSource(nick: nick ?? "*", user: user ?? "*", host: host) }

    /// account-tag: what this client's own messages carry (`adapt` keeps it only for recipients that asked). Set
    /// where a message is made, from the client who acts, never looked up later by nick.
    var accountTags: IRCTags {
        var tags = IRCTags()
        if let account { tags.set("account", account) }
        return tags
    }

    func has(_ cap: String) -> Bool { caps.contains(cap) }

    /// Strips what this client did not ask for: tags without `message-tags` (except the ones other caps grant).
    func adapt(_ message: IRCMessage) -> IRCMessage {
        guard !message.tags.isEmpty else { return message }
        var adapted = message
        let hasMessageTags = has("message-tags")
        adapted.tags.filter { tag in
            switch tag.key {
            case "time": has("server-time")
            case "batch": has("batch")
            case "account": has("account-tag")
            case "msgid": hasMessageTags
            case "label": has("labeled-response")
            default: hasMessageTags
            }
        }
        return adapted
    }
}

/// One channel: members with their prefixes, topic and modes.
struct ChannelRecord: Sendable {
    var name: String
    var created: Date
    /// Member → prefix modes held (`o`, `v`).
    var members: [ClientID: Set<Character>] = [:]
    var topic: String?
    var topicSetBy: String?
    var topicSetAt: Date?
    var key: String?
    var limit: Int?
    var inviteOnly = false
    var moderated = false
    var noExternal = true
    var topicLocked = true
    var secret = false
    var bans: [String] = []
    var invited = Set<ClientID>()

    init(name: String, created: Date) {
        self.name = name
        self.created = created
    }

    func isOperator(_ id: ClientID) -> Bool { members[id]?.contains("o") ?? false }
    func isVoiced(_ id: ClientID) -> Bool { members[id]?.contains("v") ?? false }

    /// `@` / `+` prefixes; all of them with multi-prefix, else the highest.
    func prefix(of id: ClientID, multiPrefix: Bool) -> String {
        guard let modes = members[id] else { return "" }
        var result = ""
        if modes.contains("o") { result += "@" }
        if modes.contains("v") { result += "+" }
        return multiPrefix ? result : String(result.prefix(1))
    }

    var modeString: String {
        var flags = "+"
        var params: [String] = []
        if inviteOnly { flags += "i" }
        if let key {
            flags += "k"
            params.append(key)
        }
        if let limit {
            flags += "l"
            params.append(String(limit))
        }
        if moderated { flags += "m" }
        if noExternal { flags += "n" }
        if secret { flags += "s" }
        if topicLocked { flags += "t" }
        return ([flags] + params).joined(separator: " ")
    }
}
