import Foundation

/// A user seen by IRC clients who is not connected to this server (for PearIRC: the author of a remote log).
public struct RemoteUser: Hashable, Sendable {
    /// A stable identity (e.g. a public key in text form), used to track the user across nick changes.
    public var id: String
    public var nick: String
    public var user: String
    public var host: String
    public var realName: String
    /// Shown in WHOIS as extra lines (e.g. the whole public key).
    public var whoisInfo: [String]

    public init(id: String, nick: String, user: String, host: String, realName: String, whoisInfo: [String] = []) {
        self.id = id
        self.nick = nick
        self.user = user
        self.host = host
        self.realName = realName
        self.whoisInfo = whoisInfo
    }
}

/// The kind of a chat line.
public enum ChatLineKind: String, Sendable, Hashable {
    case privmsg = "PRIVMSG"
    case notice = "NOTICE"
}

/// One line of channel (or private) history as the backend keeps it.
public struct ChatLine: Sendable, Hashable {
    public var id: String
    public var time: Date
    /// Where the line was sent: the channel, or for a private message the recipient's nick at the time.
    public var channel: String
    public var source: String
    public var kind: ChatLineKind
    public var text: String

    public init(id: String, time: Date, channel: String, source: String, kind: ChatLineKind, text: String) {
        self.id = id
        self.time = time
        self.channel = channel
        self.source = source
        self.kind = kind
        self.text = text
    }
}

/// A CHATHISTORY request, in the server's terms.
public enum HistoryQuery: Sendable, Hashable {
    case latest(channel: String, limit: Int)
    case before(channel: String, reference: HistoryReference, limit: Int)
    case after(channel: String, reference: HistoryReference, limit: Int)
    case around(channel: String, reference: HistoryReference, limit: Int)
    case between(channel: String, from: HistoryReference, to: HistoryReference, limit: Int)

    public var channel: String {
        switch self {
        case .latest(let c, _), .before(let c, _, _), .after(let c, _, _), .around(let c, _, _),
            .between(let c, _, _, _):
            c
        }
    }
}

/// A point in history: a message id or a timestamp.
public enum HistoryReference: Sendable, Hashable {
    case messageID(String)
    case timestamp(Date)
}

/// What the IRC core tells the backend: things local users did.
public enum BackendRequest: Sendable, Hashable {
    /// A local client finished registering under `nick` (a backend with one user, the gateway, takes it as that
    /// user's current nick).
    case registered(nick: String)
    /// `key`: the channel key the JOIN gave, if any (the peer-to-peer gateway makes a keyed channel a private room).
    case joined(channel: String, nick: String, key: String? = nil)
    case parted(channel: String, nick: String, reason: String)
    case message(channel: String, nick: String, kind: ChatLineKind, text: String, id: String, time: Date)
    /// A private message between local users, for history: filed under `conversation` (`PrivateConversation`);
    /// `sender` and `recipient` are the participants, `nick` the sender's nick and `target` the recipient's.
    case directMessage(
        conversation: String, sender: String, recipient: String, nick: String, target: String, kind: ChatLineKind,
        text: String, id: String, time: Date)
    /// A private message (PRIVMSG or NOTICE) from a local user to someone not connected here, for the backend to
    /// carry (`ChatBackend.carry`): `userID` is the remote user's id when the server knows them; else `target` is as
    /// the client wrote it (a nick the backend may know from elsewhere, or a key), for the backend to resolve.
    case remoteDirectMessage(userID: String?, target: String, nick: String, kind: ChatLineKind, text: String, id: String, time: Date)
    case topic(channel: String, nick: String, topic: String)
    case nickChanged(old: String, new: String)
    case quit(nick: String, reason: String)
}

/// What the backend tells the IRC core: things remote users did.
public enum BackendEvent: Sendable, Hashable {
    case remoteJoined(channel: String, user: RemoteUser)
    case remoteParted(channel: String, userID: String, reason: String)
    case remoteQuit(userID: String, reason: String)
    case remoteNick(userID: String, newNick: String)
    /// `hiddenFrom`: accounts whose clients do not get it (their person ignores its author).
    case remoteMessage(
        channel: String, userID: String, kind: ChatLineKind, text: String, id: String, time: Date, hiddenFrom: Set<String> = [])
    case remoteTopic(channel: String, userID: String, topic: String)
    /// When the channel really began (for RPL_CREATIONTIME): a backend that keeps channels longer than the server's
    /// own memory (the peer-to-peer rooms) says so, and the creation time stays the same across restarts.
    case channelCreated(channel: String, time: Date)
    /// A notice from the backend itself to every local client in `channel` (or to all, when nil).
    case serviceNotice(channel: String?, text: String)
    /// A private message from a remote user to one of this server's people: the clients logged in to `account`, or
    /// every local client when nil (a server for one person). Shown from the remote user as the server knows them,
    /// else from `user` as given (they may share no channel with us).
    case remotePrivateMessage(user: RemoteUser, kind: ChatLineKind, text: String, id: String, time: Date, account: String? = nil)
    /// What an account's login grants changed while its clients are connected (an admin demoted, an account
    /// disabled or removed): `login` is what it grants now, nil for nothing (its connections are closed).
    case accountChanged(account: String, login: AccountLogin?)
    /// The backend refused a join the IRC core had let through (a channel name that means someone else's private room
    /// here): the clients of `account` (every local client when nil) leave the channel, told why (ERR_BADCHANNELKEY).
    case joinRefused(channel: String, account: String?, reason: String)
}

/// What became of a private message to a remote user (`ChatBackend.carry`).
public enum PrivateDelivery: Sendable, Hashable {
    /// Stored, and the recipient can get it now.
    case sent
    /// Stored, but nobody can take it now: `away` says so (shown as RPL_AWAY, as for an away user).
    case held(away: String)
    /// No such person: the text of the ERR_NOSUCHNICK, saying what would work.
    case unknownTarget(String)
    /// Not stored, so nobody gets it (a full disk, a refused recipient): why, in words for the user.
    case failed(String)
}

/// The seam between the IRC front end and whatever carries the chat: an in-memory server (`--standalone`) or the
/// peer-to-peer bridge. The IRC core never knows which.
public protocol ChatBackend: Sendable {
    /// A local user did something others should see. Called in order; must not block for long.
    func handle(_ request: BackendRequest) async
    /// `handle`, naming the account of the local user who acted (nil: not logged in). A backend serving several
    /// people acts for that account's person; the IRC core calls this one.
    func handle(_ request: BackendRequest, account: String?) async
    /// Lines of a channel's (or a private conversation's) history, oldest first.
    func history(_ query: HistoryQuery) async -> [ChatLine]
    /// `history`, naming the account of the client asking (a backend serving several people answers a private
    /// conversation's history from that account's person); the IRC core calls this one.
    func history(_ query: HistoryQuery, account: String?) async -> [ChatLine]
    /// CHATHISTORY TARGETS: the query's channels and conversations with their latest message inside the window,
    /// earliest first, at most `limit`.
    func historyTargets(_ query: HistoryTargetsQuery) async -> [HistoryTarget]
    /// `historyTargets`, naming the account of the client asking (as `history(_:account:)`); the IRC core calls this
    /// one.
    func historyTargets(_ query: HistoryTargetsQuery, account: String?) async -> [HistoryTarget]
    /// The pluggable authenticator: checks SASL PLAIN or EXTERNAL credentials (and `PASS account:password`, as PLAIN),
    /// confirms a SCRAM login; returns the login granted, nil for none.
    func authenticate(_ credentials: SASLCredentials) async -> AccountLogin?
    /// `authenticate`, telling a refusal apart from credentials that could not be checked now. The IRC core asks this.
    func verdict(_ credentials: SASLCredentials) async -> AuthenticationVerdict
    /// IRCv3 `REGISTER`: makes an account (when `IRCServerConfiguration.accountRegistration` offers it).
    func register(account: String, email: String?, password: String) async -> AccountRegistrationOutcome
    /// Remote happenings, for as long as the backend runs.
    var events: AsyncStream<BackendEvent> { get }
    /// A private message to a service user (e.g. `PearServ`); returns the lines to answer with.
    /// `account`: the sender's login, if any (a backend with roles checks them here).
    func service(_ name: String, from nick: String, account: String?, text: String) async -> [String]?
    /// A chat line to store durably (a `.message` request), in order with `handle`: returns once it is queued;
    /// `stored` is called once, when the line is durable (nil) or could not be stored (why, in words for the user).
    /// Used when `IRCServerConfiguration.channelLinesAwaitStorage` is set.
    func keep(_ request: BackendRequest, stored: @escaping @Sendable (String?) -> Void) async
    /// `keep`, naming the sender's account (as `handle(_:account:)`); the IRC core calls this one.
    func keep(_ request: BackendRequest, account: String?, stored: @escaping @Sendable (String?) -> Void) async
    /// A private message to a remote user (a `.remoteDirectMessage` request), in order with `handle`: returns once it
    /// is queued; `done` is called once with what became of it (it is shown to its sender only if stored). Used
    /// when `IRCServerConfiguration.carriesRemotePrivateMessages` is set.
    func carry(_ request: BackendRequest, done: @escaping @Sendable (PrivateDelivery) -> Void) async
    /// `carry`, naming the sender's account (as `handle(_:account:)`); the IRC core calls this one.
    func carry(_ request: BackendRequest, account: String?, done: @escaping @Sendable (PrivateDelivery) -> Void) async
    /// SASL SCRAM-SHA-256: an account's stored credentials; nil for no such account (or one that may not log in).
    /// Used when `IRCServerConfiguration.offersSCRAM` is set.
    func scramCredentials(for account: String) async -> SCRAMCredentials?
}

extension ChatBackend {
    /// A backend that serves one person: who acted does not matter.
    public func handle(_ request: BackendRequest, account: String?) async {
        await handle(request)
    }

    public func history(_ query: HistoryQuery, account: String?) async -> [ChatLine] {
        await history(query)
    }

    public func historyTargets(_ query: HistoryTargetsQuery, account: String?) async -> [HistoryTarget] {
        await historyTargets(query)
    }

    public func keep(_ request: BackendRequest, account: String?, stored: @escaping @Sendable (String?) -> Void) async {
        await keep(request, stored: stored)
    }

    public func carry(_ request: BackendRequest, account: String?, done: @escaping @Sendable (PrivateDelivery) -> Void) async {
        await carry(request, done: done)
    }

    /// A backend that stores a line by handling it.
    public func keep(_ request: BackendRequest, stored: @escaping @Sendable (String?) -> Void) async {
        await handle(request)
        stored(nil)
    }

    /// A backend whose every check reaches a verdict.
    public func verdict(_ credentials: SASLCredentials) async -> AuthenticationVerdict {
        await authenticate(credentials).map(AuthenticationVerdict.granted) ?? .refused
    }

    /// A backend that makes no accounts.
    public func register(account: String, email: String?, password: String) async -> AccountRegistrationOutcome {
        .unavailable("this server does not make accounts")
    }

    /// A backend that keeps no SCRAM credentials.
    public func scramCredentials(for account: String) async -> SCRAMCredentials? { nil }

    /// A backend that carries no private messages between servers.
    public func carry(_ request: BackendRequest, done: @escaping @Sendable (PrivateDelivery) -> Void) async {
        done(.failed("private messages to remote users are not carried by this server"))
    }
}
