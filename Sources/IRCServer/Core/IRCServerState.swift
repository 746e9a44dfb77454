import Foundation

/// Identifies one connection (or one remote user) inside the server state.
public struct ClientID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: ClientID, b: ClientID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "client-\(rawValue)" }
}

/// What the server state asks its shell to do.
public enum IRCServerAction: Sendable, Hashable {
    /// Queue a message for a connected client.
    case send(ClientID, IRCMessage)
    /// Queue the same message for each of several connected clients (a channel line fanned out): one action and
    /// one encoding for all of them rather than one per member. Never includes the client whose command is being
    /// answered, so labeled-response and held replies, which look at `send`s to that client, are unaffected.
    case sendToEach([ClientID], IRCMessage)
    /// Close a client's connection (after what was queued for it).
    case close(ClientID)
    /// Tell the backend what a local user did; `account`: theirs, if logged in (a backend serving several people
    /// acts for that person).
    case backend(BackendRequest, account: String?)
    /// Hand a channel line to the backend to store (in order with `backend` requests); answer with `lineStored`. Until
    /// then nobody sees it: not the channel, not the sender's echo. `answersLate`: the line was labeled, so its
    /// echo (or ACK) is the command's late answer.
    case storeLine(ClientID, token: UInt64, BackendRequest, answersLate: Bool, account: String?)
    /// Hand a private message to a remote user to the backend to carry (in order with `backend` requests); answer
    /// with `privateMessageCarried`. Until then the sender sees no echo.
    case carryPrivate(ClientID, token: UInt64, BackendRequest, answersLate: Bool, account: String?)
    /// Check SASL credentials with the backend; answer with `authenticationFinished`.
    case authenticate(ClientID, SASLCredentials)
    /// Look up an account's SCRAM credentials with the backend; answer with `scramCredentialsFound`.
    case lookUpSCRAM(ClientID, account: String)
    /// Ask the backend for history; answer with `historyReady`.
    /// `onJoin`: the replay after a JOIN, sent only when there is history (a CHATHISTORY answer is always a batch).
    case fetchHistory(ClientID, HistoryQuery, batchType: String, target: String, onJoin: Bool)
    /// Ask the backend for CHATHISTORY TARGETS; answer with `targetsReady`.
    case fetchTargets(ClientID, HistoryTargetsQuery)
    /// A message to a service user; answer with `serviceReplied`.
    case service(ClientID, service: String, text: String)
    /// Check an OPER password against the configured hash (slow: off the state's thread); answer with
    /// `operatorVerified`.
    case verifyOperator(ClientID, name: String, password: String, hash: String)
    /// IRCv3 REGISTER: ask the backend to make an account; answer with `registrationFinished`.
    case register(ClientID, account: String, email: String?, password: String)
}

extension IRCServerAction {
    /// The client this action will answer later (through the shell and back into the state), if it is one of
    /// those: SASL, history, TARGETS, services, OPER checks.
    var lateAnswerTarget: ClientID? {
        switch self {
        case .authenticate(let target, _), .lookUpSCRAM(let target, _), .fetchHistory(let target, _, _, _, _), .fetchTargets(let target, _),
            .service(let target, _, _), .verifyOperator(let target, _, _, _), .register(let target, _, _, _):
            target
        case .storeLine(let target, _, _, let answersLate, _), .carryPrivate(let target, _, _, let answersLate, _):
            answersLate ? target : nil
        case .send, .sendToEach, .close, .backend:
            nil
        }
    }
}

/// The whole IRC server as a value: clients, nicks, channels. Inputs are connection events, parsed messages,
/// time and backend events; outputs are `IRCServerAction`s. No sockets, clocks or randomness of its own, so
/// every behaviour is tested by feeding messages and reading what it would send.
public struct IRCServerState: Sendable {
    public let configuration: IRCServerConfiguration
    public let casemapping: IRCCasemapping = .rfc1459
    let validation: IRCNameValidation
    let created: Date
    /// `created` as RPL_CREATED and INFO show it, formatted once (a `DateFormatter` per registration is costly).
    let createdText: String
    var clients: [ClientID: ClientRecord] = [:]
    /// Folded nick → client.
    var nicks: [String: ClientID] = [:]
    /// Folded channel name → channel.
    var channels: [String: ChannelRecord] = [:]
    /// A person's connection that stands for them → the other connections of the same account, in the order they
    /// came (`sharedAccountSessions`).
    var attachedSessions: [ClientID: [ClientID]] = [:]
    /// Folded account → the connection that stands for its person here (`sharedAccountSessions`).
    var personByAccount: [String: ClientID] = [:]
    /// When a connection of an account last went away, per account (folded) and per account and device (its USER
    /// name, `departureKey`): a client without CHATHISTORY that attaches gets the lines since its own device's last
    /// departure, else the account's (bounded by `maximumRememberedDepartures`).
    var accountLastSeen: [String: Date] = [:]
    static let maximumRememberedDepartures = 4096
    /// Remote user id → the client id standing for them.
    var remoteUsers: [String: ClientID] = [:]
    var nextRemoteID: UInt64 = 1 << 62
    var actions: [IRCServerAction] = []
    var messageCounter: UInt64 = 0
    /// Users who left or changed nick, oldest first (WHOWAS).
    var whowas: [WhowasEntry] = []
    /// Folded nick → clients MONITORing it.
    var monitors: [String: Set<ClientID>] = [:]
    /// Sends produced while handling a command that are not its answer (a message to oneself), kept out of the
    /// labeled response and appended after it.
    var outsideLabel: [IRCServerAction] = []
    var peakLocalUsers = 0
    var peakGlobalUsers = 0
    /// Account participant → folded nick → the participant they last exchanged private messages with under it.
    var recentPartners: [String: [String: String]] = [:]
    static let maximumRecentPartners = 256
    /// Most lines one CHATHISTORY reply may hold: a full reply of maximal lines (about 1 KiB each with tags) must
    /// fit the client's SendQ, or asking for it would get the client disconnected.
    var historyReplyLimit: Int {
        max(1, min(1000, configuration.sendQueueLimit / 1024))
    }
    /// Channel lines handed to the backend and not yet reported stored, by token (`storeLine`).
    var unstoredLines: [UInt64: UnstoredLine] = [:]
    var nextLineToken: UInt64 = 1
    /// Failed SASL logins, per source address and account: further attempts wait (`LoginThrottle`).
    var loginThrottle = LoginThrottle()
    /// Private messages from remote users that arrived while no client was connected, for the next one to register.
    var privateMessagesWhileAway: [PrivateMessageWhileAway] = []
    /// Whether the command being processed carries a label (its late answers are labeled together).
    var processingLabeledCommand = false
    /// Capabilities taken out of the offer while running (`changeCapabilities`).
    var withdrawnCapabilities: Set<String> = []
    let messageIDPrefix: String

    /// - Parameter messageIDPrefix: makes `msgid`s unique across restarts; pass random text in production.
    public init(configuration: IRCServerConfiguration, created: Date, messageIDPrefix: String) {
        self.configuration = configuration
        self.created = created
        createdText = IRCServerTime.readable(created)
        self.messageIDPrefix = messageIDPrefix
        validation = IRCNameValidation(nickLength: configuration.nickLength, channelLength: configuration.channelLength)
    }

    // MARK: - Inputs

    /// A connection was accepted.
    /// `loginRequired`: this connection must log in before it registers (also when `configuration.requiresLogin` says so).
    public mutating func connected(
        _ id: ClientID, host: String, secure: Bool, certificateFingerprint: String?, loginRequired: Bool = false, now: Date
    ) -> [IRCServerAction] {
        var client = ClientRecord(
            id: id, host: host, secure: secure, certificateFingerprint: certificateFingerprint, connectedAt: now)
        client.loginRequired = loginRequired || configuration.requiresLogin
        client.flood = floodBucket(host: host, now: now)
        clients[id] = client
        return drain()
    }

    /// The TLS handshake finished with a client certificate: from now on SASL EXTERNAL can use its fingerprint
    /// (lowercase hex SHA-256 of the DER). Arrives before any line the client sent over TLS.
    public mutating func certificatePresented(_ id: ClientID, fingerprint: String) -> [IRCServerAction] {
        clients[id]?.certificateFingerprint = fingerprint
        return drain()
    }

    /// A connection is gone (closed by either side). Its user quits.
    public mutating func disconnected(_ id: ClientID, reason: String, now: Date) -> [IRCServerAction] {
        guard clients[id] != nil else { return [] }
        quit(id, reason: reason, now: now, notifySelf: false)
        return drain()
    }

    /// A client sent a line that failed to parse. `label` is the line's `label` tag when one could still be read
    /// (see `IRCTag.value(of:inRawLine:)`): the error reply carries it, as labeled-response asks.
    public mutating func malformed(_ id: ClientID, error: IRCParseError, label: String? = nil) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        let start = actions.count
        switch error {
        case .tagsTooLong, .bodyTooLong:
            reply(client, .errInputTooLong, ["Input line was too long"])
        case .invalidCommand(let command):
            reply(client, .errUnknownCommand, [command, "Unknown command"])
        default:
            // Empty lines are ignored (RFC 1459); other malformed lines get no answer a client could misread
            // (only an ACK when labeled).
            break
        }
        if let label, client.has("labeled-response"), !label.isEmpty, label.utf8.count <= 64 {
            applyLabel(label, to: id, from: start)
        }
        return drain()
    }

    /// A client's line was longer than the framer allows.
    public mutating func oversizedLine(_ id: ClientID) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        reply(client, .errInputTooLong, ["Input line was too long"])
        return drain()
    }

    /// A parsed message from a client.
    public mutating func received(
        _ message: IRCMessage, from id: ClientID, replacedInvalidUTF8: Bool = false, now: Date
    ) -> [IRCServerAction] {
        guard clients[id]?.isRemote == false else { return [] }
        // In place: a copy of the record held across the mutation would make it copy all its fields.
        clients[id]?.lastActivity = now
        clients[id]?.pingSentAt = nil
        if replacedInvalidUTF8 {
            // UTF8ONLY: the line was relayed with U+FFFD in place of the invalid bytes; the sender hears so first.
            emit(id, IRCMessage(
                source: serverSource, command: .verb("WARN"),
                params: [message.command.text, "INVALID_UTF8", "Invalid UTF-8 was replaced with U+FFFD"]))
        }
        if admit(message, from: id, now: now) { run(message, from: id, now: now) }
        return drain()
    }

    /// Time passed: registration timeouts, idle pings, ping timeouts.
    public mutating func tick(now: Date) -> [IRCServerAction] {
        expireWaiting(now: now)
        releaseQueuedLines(now: now)
        for (id, client) in clients where !client.isRemote {
            if !client.isRegistered,
                now.timeIntervalSince(client.connectedAt) > configuration.registrationTimeout.seconds
            {
                error(id, "Closing Link: \(client.host) (Registration timed out)")
                quit(id, reason: "Registration timed out", now: now, notifySelf: false)
                continue
            }
            if let sent = client.pingSentAt {
                if now.timeIntervalSince(sent) > configuration.pingTimeout.seconds {
                    let seconds = Int(configuration.pingInterval.seconds + configuration.pingTimeout.seconds)
                    error(id, "Closing Link: \(client.host) (Ping timeout: \(seconds) seconds)")
                    quit(id, reason: "Ping timeout: \(seconds) seconds", now: now, notifySelf: false)
                }
            } else if client.isRegistered, now.timeIntervalSince(client.lastActivity) > configuration.pingInterval.seconds {
                clients[id]?.pingSentAt = now
                emit(id, IRCMessage(command: .verb("PING"), params: [configuration.serverName]))
            }
        }
        return drain()
    }

    /// The backend's verdict on SASL credentials (or on `PASS account:password`).
    public mutating func authenticationFinished(_ id: ClientID, login: AccountLogin?, now: Date) -> [IRCServerAction] {
        answeringDeferred(id) { state in state.finishAuthentication(id, login: login, now: now) }
        return drain()
    }

    /// The backend could not check the credentials now (`AuthenticationVerdict.unavailable`): the client is told why,
    /// and the attempt does not count as a failed login.
    public mutating func authenticationUnavailable(_ id: ClientID, reason: String, now: Date) -> [IRCServerAction] {
        answeringDeferred(id) { state in
            guard var client = state.clients[id] else { return }
            client.sasl = .idle
            client.saslAttempt = nil
            let byPassword = client.passwordLoginUnderWay
            client.passwordLoginUnderWay = false
            state.clients[id] = client
            if byPassword {
                state.refuseLogin(id, "Your password could not be checked now: \(reason)", now: now)
            } else {
                state.reply(client, .errSASLFail, ["SASL authentication failed: \(reason)"])
            }
        }
        return drain()
    }

    mutating func finishAuthentication(_ id: ClientID, login: AccountLogin?, now: Date) {
        guard var client = clients[id] else { return }
        client.sasl = .idle
        if let attempt = client.saslAttempt {
            client.saslAttempt = nil
            if login == nil {
                loginThrottle.failed([LoginThrottle.addressKey(client.host), LoginThrottle.accountKey(attempt.account)], at: attempt.at)
            } else {
                loginThrottle.succeeded(account: attempt.account, address: client.host)
            }
        }
        let byPassword = client.passwordLoginUnderWay
        client.passwordLoginUnderWay = false
        clients[id] = client
        if byPassword { return finishPasswordLogin(id, login: login, now: now) }
        guard let login else {
            reply(client, .errSASLFail, ["SASL authentication failed"])
            return
        }
        if let current = client.account, !configuration.accountSwitching || configuration.sharedAccountSessions,
            fold(current) != fold(login.account)
        {
            // The account is the person here (the gateway): a connection does not become someone else midway.
            reply(client, .errSASLFail, ["SASL authentication failed: this connection is logged in as \(current); reconnect to log in as \(login.account)"])
            return
        }
        logIn(id, login)
        for session in sessions(of: id) where session != id { applyOperatorStatus(session, login) }
        sharePersonChanges(from: id)
        reply(client, .rplSASLSuccess, ["SASL authentication successful"])
    }

    /// Records a granted login on the client: RPL_LOGGEDIN, operator status when the account grants it (or its end
    /// when a re-authentication moves to an account that does not), and ACCOUNT to the neighbours that follow
    /// accounts (after registration).
    mutating func logIn(_ id: ClientID, _ login: AccountLogin) {
        guard var client = clients[id] else { return }
        let changed = client.account != login.account
        client.account = login.account
        clients[id] = client
        reply(client, .rplLoggedIn, [client.mask, login.account, "You are now logged in as \(login.account)"])
        applyOperatorStatus(id, login)
        guard client.isRegistered else { return }
        // Logged in after registration: this connection's person is the account's person here, if it has none yet
        // (a later connection of the account joins it).
        if configuration.sharedAccountSessions, personByAccount[fold(login.account)] == nil {
            personByAccount[fold(login.account)] = person(of: id)
        }
        if changed {
            // SASL after registration: account-notify tells those who share a channel.
            let notice = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("ACCOUNT"), params: [login.account])
            for other in othersToTell(about: id) where clients[other]?.has("account-notify") == true {
                emit(other, notice)
            }
        }
    }

    /// Operator status as the account's login grants it: given (381, MODE +ow) when it grants it, withdrawn (MODE -ow)
    /// when it no longer does and came from a login (status from OPER stays). The MODE is shown after registration.
    mutating func applyOperatorStatus(_ id: ClientID, _ login: AccountLogin) {
        guard var client = clients[id] else { return }
        var modeChange: String?
        if login.isOperator, !client.isOperator {
            client.isOperator = true
            client.wallops = true
            client.operatorFromLogin = true
            modeChange = "+ow"
        } else if !login.isOperator, client.operatorFromLogin {
            client.isOperator = false
            client.wallops = false
            client.operatorFromLogin = false
            modeChange = "-ow"
        }
        clients[id] = client
        guard client.isRegistered, let modeChange else { return }
        if modeChange.hasPrefix("+") { reply(client, .rplYoureOper, ["You are now an IRC operator (as an admin of this gateway)"]) }
        emit(id, IRCMessage(tags: client.accountTags, source: client.source, command: .verb("MODE"), params: [client.nick ?? "*", modeChange]))
    }

    /// What `account`'s login grants changed (`BackendEvent.accountChanged`): each of its connections gets the operator
    /// status it grants now, or, when it grants nothing (disabled, removed), is closed with the reason.
    mutating func accountChanged(_ account: String, login: AccountLogin?, now: Date) {
        let folded = fold(account)
        let affected = clients.values.filter { !$0.isRemote && $0.account.map(fold) == folded }.map(\.id).sorted()
        for id in affected {
            guard let client = clients[id] else { continue }
            guard let login else {
                emit(id, IRCMessage(
                    source: serverSource, command: .verb("NOTICE"),
                    params: [client.nick ?? "*", "Your account \(account) was disabled or removed on this gateway"]))
                error(id, "Closing Link: \(client.host) (Account disabled)")
                quit(id, reason: "Account disabled", now: now, notifySelf: false)
                continue
            }
            applyOperatorStatus(id, login)
        }
    }

    /// History the backend found for a client's request.
    public mutating func historyReady(
        _ id: ClientID, lines: [ChatLine], batchType: String, target: String, onJoin: Bool = false, now: Date
    ) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        answeringDeferred(id) { state in
            // A brand-new channel has nothing to replay: no empty batch (inside a labeled response it would read as
            // the answer to the JOIN).
            guard !(onJoin && lines.isEmpty) else { return }
            state.sendHistory(to: client, lines: lines, batchType: batchType, target: target)
        }
        return drain()
    }

    /// CHATHISTORY TARGETS the backend found, earliest first.
    public mutating func targetsReady(_ id: ClientID, targets: [HistoryTarget]) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        answeringDeferred(id) { state in
            state.sendTargets(to: client, targets: targets)
        }
        return drain()
    }

    /// A service user's answer.
    public mutating func serviceReplied(_ id: ClientID, service: String, lines: [String]) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        answeringDeferred(id) { state in
            for line in lines {
                state.emit(id, IRCMessage(
                    source: IRCSource(nick: service, user: "service", host: state.configuration.serverName),
                    command: .verb("NOTICE"), params: [client.nick ?? "*", line]))
            }
        }
        return drain()
    }

    mutating func drain() -> [IRCServerAction] {
        defer { actions = [] }
        return actions
    }

    // MARK: - Output helpers

    var serverSource: IRCSource { IRCSource(nick: configuration.serverName) }

    func fold(_ name: String) -> String { casemapping.fold(name) }

    mutating func emit(_ id: ClientID, _ message: IRCMessage) {
        guard let capabilities = tagCapabilities(of: id, receiving: message) else { return }
        actions.append(.send(id, Self.fitted(capabilities.adapt(message))))
    }

    /// The tag capabilities `message` is adapted to for client `id`, or nil when that client does not get it at all:
    /// remote users get nothing, and TAGMSG, which carries nothing but tags, goes only to clients with message-tags.
    func tagCapabilities(of id: ClientID, receiving message: IRCMessage) -> ClientRecord.TagCapabilities? {
        guard let client = clients[id], !client.isRemote else { return nil }
        let capabilities = client.tagCapabilities
        if message.command == .verb("TAGMSG"), !capabilities.contains(.messageTags) { return nil }
        return capabilities
    }

    /// `emit` to each of `recipients` (distinct; not the client whose command this answers, see `sendToEach`), with
    /// the message adapted and fitted once per set of tag capabilities among them instead of once per recipient.
    mutating func emitToEach(_ recipients: [ClientID], _ message: IRCMessage) {
        var groups: [(capabilities: ClientRecord.TagCapabilities, ids: [ClientID])] = []
        for id in recipients {
            guard let capabilities = tagCapabilities(of: id, receiving: message) else { continue }
            if let index = groups.firstIndex(where: { $0.capabilities == capabilities }) {
                groups[index].ids.append(id)
            } else {
                groups.append((capabilities, [id]))
            }
        }
        for group in groups {
            let adapted = Self.fitted(group.capabilities.adapt(message))
            actions.append(group.ids.count == 1 ? .send(group.ids[0], adapted) : .sendToEach(group.ids, adapted))
        }
    }

    /// `message` with its last param shortened (at a character boundary) so that the body fits the 510-byte limit
    /// once encoded. A relayed line grows by the sender's source, so a message that fit when the client sent it may
    /// not fit when we send it on: like other servers we cut the text rather than drop the line.
    static func fitted(_ message: IRCMessage, limit: Int = IRCMessageLimits.standard.maxBodyBytes) -> IRCMessage {
        guard let last = message.params.last else { return message }
        var length = 0
        if let source = message.source {
            length += 2 + source.nick.utf8.count  // `:` and the space after the source
            if let user = source.user { length += 1 + user.utf8.count }
            if let host = source.host { length += 1 + host.utf8.count }
        }
        switch message.command {
        case .verb(let verb): length += verb.utf8.count
        case .numeric: length += 3
        }
        for param in message.params { length += 1 + param.utf8.count }
        length += 1  // a `:` before the last param
        let excess = length - limit
        guard excess > 0 else { return message }
        let keep = last.utf8.count - excess
        guard keep > 0 else { return message }
        var cut = last.utf8.index(last.utf8.startIndex, offsetBy: keep)
        while cut > last.utf8.startIndex, UTF8.isContinuation(last.utf8[cut]) {
            cut = last.utf8.index(before: cut)
        }
        var shortened = message
        shortened.params[shortened.params.count - 1] = String(decoding: last.utf8[..<cut], as: UTF8.self)
        return shortened
    }

    /// A numeric reply to a client: the target (nick or `*`) goes first.
    mutating func reply(_ client: ClientRecord, _ numeric: IRCNumeric, _ params: [String]) {
        emit(client.id, IRCMessage(source: serverSource, numeric, [client.nick ?? "*"] + params))
    }

    mutating func error(_ id: ClientID, _ text: String) {
        emit(id, IRCMessage(command: .verb("ERROR"), params: [text]))
        actions.append(.close(id))
    }

    /// A request for the backend, naming the account of the client who acted.
    mutating func tellBackend(_ request: BackendRequest, by client: ClientRecord) {
        actions.append(.backend(request, account: client.account))
    }

    /// A new `msgid` for a message of `account`'s (in its own namespace where the configuration gives one).
    mutating func nextMessageID(for account: String? = nil) -> String {
        messageCounter += 1
        if let account, let namespace = configuration.messageIDNamespaceOfAccount?(account) {
            return "\(namespace)\(messageIDPrefix.dropFirst(configuration.messageIDNamespace.count))-\(messageCounter)"
        }
        return "\(messageIDPrefix)-\(messageCounter)"
    }

    /// Sends `message` to every member of `channel` except `except`, adapting tags per client.
    mutating func broadcast(_ message: IRCMessage, to channel: ChannelRecord, except: ClientID? = nil) {
        for member in channel.members.keys.sorted() where member != except {
            emit(member, message)
        }
    }

    /// Everyone who shares a channel with `id` (not `id` itself).
    func neighbours(of id: ClientID) -> Set<ClientID> {
        var result = Set<ClientID>()
        for channel in channels.values where channel.members[id] != nil {
            result.formUnion(channel.members.keys)
        }
        result.remove(id)
        return result
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
