import Foundation

/// One client as the server state sees it: a local connection or a remote user standing in a channel.
///
/// A value with its fields behind one shared, copy-on-write reference: the server keeps a record per connection in
/// a dictionary and reads one out for nearly every line it sends, so the dictionary holds a pointer, not some
/// 400 bytes per slot (most of them empty at its load factor), and reading a record out retains one object instead
/// of every string and collection in it. Fields read and write as if they were the record's own
/// (`record.nick = …`), through `Fields`.
@dynamicMemberLookup
struct ClientRecord: Sendable {
    private final class Storage: @unchecked Sendable {
        // Only ever mutated while uniquely referenced (the `_modify` below), so sharing it between copies is safe.
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var storage: Storage

    init(id: ClientID, host: String, secure: Bool, certificateFingerprint: String?, connectedAt: Date) {
        storage = Storage(
            Fields(id: id, host: host, secure: secure, certificateFingerprint: certificateFingerprint, connectedAt: connectedAt))
    }

    subscript<Value>(dynamicMember keyPath: KeyPath<Fields, Value>) -> Value {
        storage.fields[keyPath: keyPath]
    }

    subscript<Value>(dynamicMember keyPath: WritableKeyPath<Fields, Value>) -> Value {
        get { storage.fields[keyPath: keyPath] }
        _modify {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
            yield &storage.fields[keyPath: keyPath]
        }
    }
}

extension ClientRecord {
    /// What a client record holds.
    struct Fields: Sendable {
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
        var registration = RegistrationPhase.connected
        var capVersion = 301
        var caps = Set<String>() {
            didSet { tagCapabilities = TagCapabilities(caps) }
        }
        /// The tag-related part of `caps`, looked up once per change rather than per message sent (`adapt`).
        private(set) var tagCapabilities = TagCapabilities([])
        var account: String?
        /// The user name this connection registered with (`USER`), which tells one client of an account from another
        /// for the lines it missed (`accountLastSeen`); unlike `user`, never copied from the person.
        var device: String?
        var sasl = SASLExchange.idle
        /// The account the SASL exchange under way tries (for `LoginThrottle`), and when it began.
        var saslAttempt: (account: String, at: Date)?
        /// What PASS gave (`account:password`, or a password for the USER name), kept until registration completes
        /// (`PasswordLogin.swift`).
        var password: String?
        /// This connection must log in before it registers (`IRCServerConfiguration.requiresLogin`, `loginRequirement`).
        var loginRequired = false
        /// Registration waits for the backend's verdict on the PASS login.
        var passwordLoginUnderWay = false
        /// Operator status came with the account's login (the gateway's admins), not from OPER.
        var operatorFromLogin = false
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

        /// Another connection of a person already here (`IRCServerConfiguration.sharedAccountSessions`): the
        /// connection that stands for the person in nicks and visible member lists (`Sessions.swift`).
        var attachedTo: ClientID?
        /// The host others see for this connection's person, when it is not its own (an attached connection shows
        /// its person's, so the person keeps one hostmask whichever connection speaks).
        var displayHost: String?
        /// A remote user (no connection): messages are never sent to them.
        var isRemote = false
        var remoteID: String?
        var whoisInfo: [String] = []

        /// Welcomed: past registration, or a remote user.
        var isRegistered: Bool { registration == .registered }

        /// The host in this client's hostmask: its person's (`displayHost`), else its own.
        var visibleHost: String { displayHost ?? host }

        init(id: ClientID, host: String, secure: Bool, certificateFingerprint: String?, connectedAt: Date) {
            self.id = id
            self.host = host
            self.secure = secure
            self.certificateFingerprint = certificateFingerprint
            self.connectedAt = connectedAt
            self.lastActivity = connectedAt
        }
    }

    /// Which of the capabilities that decide a message's tags a client has.
    struct TagCapabilities: OptionSet, Sendable {
        let rawValue: UInt8
        static let messageTags = TagCapabilities(rawValue: 1 << 0)
        static let serverTime = TagCapabilities(rawValue: 1 << 1)
        static let batch = TagCapabilities(rawValue: 1 << 2)
        static let accountTag = TagCapabilities(rawValue: 1 << 3)
        static let labeledResponse = TagCapabilities(rawValue: 1 << 4)

        init(rawValue: UInt8) { self.rawValue = rawValue }

        init(_ caps: Set<String>) {
            var set: TagCapabilities = []
            if caps.contains("message-tags") { set.insert(.messageTags) }
            if caps.contains("server-time") { set.insert(.serverTime) }
            if caps.contains("batch") { set.insert(.batch) }
            if caps.contains("account-tag") { set.insert(.accountTag) }
            if caps.contains("labeled-response") { set.insert(.labeledResponse) }
            self = set
        }

        /// `message` without the tags a client with these capabilities did not ask for (without `message-tags`, only
        /// the ones other capabilities grant); the message itself, sharing its storage, when every tag passes.
        func adapt(_ message: IRCMessage) -> IRCMessage {
            guard !message.tags.isEmpty, !message.tags.allSatisfy({ allows($0.key) }) else { return message }
            var adapted = message
            adapted.tags.filter { allows($0.key) }
            return adapted
        }

        /// Whether a client with these capabilities gets a tag.
        func allows(_ key: String) -> Bool {
            switch key {
            case "time": contains(.serverTime)
            case "batch": contains(.batch)
            case "account": contains(.accountTag)
            case "label": contains(.labeledResponse)
            default: contains(.messageTags)  // msgid and every other tag come with message-tags
            }
        }
    }
}

extension ClientRecord {
    var mask: String { "\(self.nick ?? "*")!\(self.user ?? "*")@\(self.visibleHost)" }

    var source: IRCSource { IRCSource(nick: self.nick ?? "*", user: self.user ?? "*", host: self.visibleHost) }

    /// account-tag: what this client's own messages carry (`TagCapabilities.adapt` keeps it only for recipients
    /// that asked). Set
    /// where a message is made, from the client who acts, never looked up later by nick.
    var accountTags: IRCTags {
        var tags = IRCTags()
        if let account = self.account { tags.set("account", account) }
        return tags
    }

    func has(_ cap: String) -> Bool { self.caps.contains(cap) }
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
    /// The key the channel's first local member joined with (`IRCServerConfiguration.keyedJoinsChooseRooms`).
    var localJoinKey: String?
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
