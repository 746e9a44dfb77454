import Foundation
import HyperLog
import IRCServer

/// The IRC front end's view of the gateway (the `ChatBackend` `IRCServerCore` talks to in peer-to-peer mode): IRC
/// commands become `GatewayRequest`s, room events become IRC events, room lines become IRC lines (CTCP ACTION,
/// line splitting, hostmasks: `IRCRoomText`, `IRCRoomMember`), plus the `PearServ` service user.
public final class GatewayBackend: ChatBackend {
    public let gateway: Gateway
    let service: PearServ
    /// The gateway's accounts; nil runs without any (one user, as before accounts existed).
    public let logins: AccountLogins?
    public let events: AsyncStream<BackendEvent>
    private let subscription: RoomEventHub.Subscription
    /// What accounts' logins grant, as last told to the IRC core (nil without accounts).
    private let standings: AccountStandings?
    private let continuation: AsyncStream<BackendEvent>.Continuation

    /// `transportKey`: the key the gateway's connections run under (`GatewayNode.transportKey`), shown by PearServ.
    public init(gateway: Gateway, connector: PearServ.Connector?, logins: AccountLogins? = nil, transportKey: [UInt8]? = nil) {
        self.gateway = gateway
        self.logins = logins
        let (events, continuation) = AsyncStream<BackendEvent>.makeStream()
        let standings = logins.map { AccountStandings(database: $0.database) }
        self.events = events
        self.continuation = continuation
        self.standings = standings
        service = PearServ(
            gateway: gateway, connector: connector, logins: logins, transportKey: transportKey,
            accountsChanged: { Self.tell(standings, logins?.people, continuation) })
        let people = logins?.people
        // Every account's person is known from the start, so a direct line finds its account without a query.
        _ = people?.everyone()
        let firstPerson = gateway.identity.keyPair.publicKey
        // Without accounts a gateway has one person, whose clients have no login: what is theirs is every client's.
        let oneUser: @Sendable () -> Bool = { logins.map { !$0.hasAccounts } ?? true }
        subscription = gateway.roomEvents.subscribe { event in
            var account: String?
            if case .directLine(let to, _) = event {
                // To one person's clients only: a gateway never shows one person's messages to another (one whose
                // account cannot be found gets it when they log in next: it is in the conversation's history).
                account = people?.account(of: to)
                guard account != nil || to == firstPerson && oneUser() else { return }
            }
            if case .joinRefused(_, let person, _) = event {
                account = people?.account(of: person)
                guard account != nil || person == firstPerson && oneUser() else { return }
            }
            var hiddenFrom: Set<String> = []
            if case .line(_, let line) = event {
                // Hidden from the clients of those of our people who ignore its author (someone whose account is gone
                // hides nothing); on a gateway without accounts, its one person's ignoring hides it from every client.
                for person in gateway.ignores.ignorers(of: line.author) {
                    if let ignorer = people?.account(of: person) {
                        hiddenFrom.insert(ignorer)
                    } else if person == firstPerson, oneUser() {
                        return
                    }
                }
            }
            for backendEvent in Self.backendEvents(for: event, account: account, hiddenFrom: hiddenFrom) {
                continuation.yield(backendEvent)
            }
        }
    }

    /// Whose request it is: the person of the account that acted (each account is its own identity), or, for a client
    /// without a login, the gateway's first person (only a gateway without accounts has such clients, and its first
    /// account keeps that person's identity). Throws for an account the gateway cannot place: its request must not be
    /// written as anyone else's.
    func person(of account: String?) throws(UnknownPerson) -> [UInt8] {
        guard let account else { return gateway.identity.keyPair.publicKey }
        guard let person = logins?.people.known(account) ?? logins?.people.person(of: account) else {
            throw UnknownPerson(account: account)
        }
        return person.keyPair.publicKey
    }

    struct UnknownPerson: Error, CustomStringConvertible {
        let account: String
        var description: String { "the gateway could not find the person of account \(account)" }
    }

    /// Tells the IRC core what accounts' logins grant now, where that changed since it was last told (a demoted admin
    /// stops being an operator, a disabled or removed account's clients are closed). PearServ's account commands
    /// call it at once; `AccountStandingService` calls it every few seconds for changes made from the command line.
    public func checkAccounts() {
        Self.tell(standings, logins?.people, continuation)
    }

    private static func tell(
        _ standings: AccountStandings?, _ people: AccountPeople?, _ continuation: AsyncStream<BackendEvent>.Continuation
    ) {
        for event in standings?.changes() ?? [] {
            // An account removed (or disabled) is looked up afresh next time: a new account of that name is someone else.
            if case .accountChanged(let account, nil) = event { people?.forget(account) }
            continuation.yield(event)
        }
    }

    public func handle(_ request: BackendRequest) async {
        await handle(request, account: nil)
    }

    /// What a local user did, for the person of their account.
    public func handle(_ request: BackendRequest, account: String?) async {
        let person: [UInt8]
        do {
            person = try self.person(of: account)
        } catch {
            return gateway.logger.error("a request was dropped", metadata: ["reason": "\(error)"])
        }
        if case .joined(let channel, let nick, let key?) = request {
            return await joinPrivate(channel, nick: nick, key: key, person: person)
        }
        guard let request = Self.gatewayRequest(for: request) else { return }
        // Chat lines are queued, not waited on one by one (the IRC core hands requests over one at a time, so waiting
        // would allow one commit per line; queued, a burst shares one). Everything else is waited on, so what comes
        // after a JOIN finds the room.
        if case .say = request {
            gateway.submit(request, as: person)
        } else {
            await gateway.handle(request, as: person)
        }
    }

    public func keep(_ request: BackendRequest, stored: @escaping @Sendable (String?) -> Void) async {
        await keep(request, account: nil, stored: stored)
    }

    /// A chat line, shown on IRC once the gateway reports it committed (or its failure): queued without waiting, so a
    /// burst shares one commit.
    public func keep(_ request: BackendRequest, account: String?, stored: @escaping @Sendable (String?) -> Void) async {
        let person: [UInt8]
        do {
            person = try self.person(of: account)
        } catch {
            return stored("\(error)")
        }
        guard let request = Self.gatewayRequest(for: request) else { return stored(nil) }
        gateway.submit(request, as: person, stored: stored)
    }

    /// `JOIN #team secret`: the private room of that name and secret (Argon2id, tens of milliseconds: on Swift's
    /// shared pool, not the gateway's or the IRC loop's thread), or of an invite given as the key. Returns once joined
    /// (the IRC core asks for history in order after it, so a replay is never the public room's).
    func joinPrivate(_ channel: String, nick: String, key: String, person: [UInt8]) async {
        let gateway = self.gateway
        let folded = Gateway.fold(channel)
        await Task.detached {
            let keys: PrivateRoomKeys
            if let invite = try? RoomInvite(parsing: key) {
                keys = PrivateRoomKeys(root: invite.root)
            } else {
                do {
                    keys = try PrivateRoomKeys(foldedChannelName: folded, secret: key)
                } catch {
                    gateway.roomEvents.publish(.gatewayNotice(room: channel, text: "Could not derive the room's keys (\(error)): not joined."))
                    return
                }
            }
            await gateway.handle(.joinPrivate(room: channel, nick: nick, keys: keys), as: person)
        }.value
    }

    /// A private message to a remote person: the target resolved to an identity (`DirectTarget`), the line stored in
    /// our log of the conversation, then reported sent, or held while their gateway is not connected.
    public func carry(_ request: BackendRequest, done: @escaping @Sendable (PrivateDelivery) -> Void) async {
        await carry(request, account: nil, done: done)
    }

    /// A private message from the person of `account`.
    public func carry(_ request: BackendRequest, account: String?, done: @escaping @Sendable (PrivateDelivery) -> Void) async {
        guard case .remoteDirectMessage(let userID, let target, _, let kind, let text, let id, let time) = request else {
            return done(.failed("not a private message"))
        }
        let person: [UInt8]
        do {
            person = try self.person(of: account)
        } catch {
            return done(.failed("\(error)"))
        }
        let identity: [UInt8]
        switch await DirectTarget.resolve(userID: userID, target: target, gateway: gateway) {
        case .person(let key): identity = key
        case .unknown(let why): return done(.unknownTarget(why))
        case .refused(let why): return done(.failed(why))
        }
        // Their messages are refused here, so no conversation with them runs: say so rather than keep it unsent.
        guard !gateway.ignores.contains(ZBase32.encode(identity), by: person) else {
            return done(.failed("you ignore \(target), so no conversation with them runs; /msg PearServ unignore \(target) first"))
        }
        let lineKind: RoomLineKind
        var body = text
        if let action = IRCRoomText.action(text) {
            lineKind = .action
            body = action
        } else {
            lineKind = kind == .notice ? .notice : .message
        }
        let gateway = self.gateway
        // Told when stored, in the order stored (whether their gateway is connected is read there and then).
        gateway.submit(.sayDirect(to: identity, kind: lineKind, text: body, id: id, time: time), as: person) { failure in
            if let failure { return done(.failed(failure)) }
            done(gateway.isConnected(identity) ? .sent : .held(away: "is not online: your message is kept and reaches them when both of you are online"))
        }
    }

    /// What an IRC command means for the rooms; nil when it means nothing to them.
    static func gatewayRequest(for request: BackendRequest) -> GatewayRequest? {
        switch request {
        case .joined(let channel, let nick, nil):
            return .join(room: channel, nick: nick)
        case .joined(_, _, .some):
            // A private room: its keys are derived first (`joinPrivate`).
            return nil
        case .parted(let channel, _, let reason):
            return .part(room: channel, reason: reason)
        case .message(let channel, _, let kind, let text, let id, let time):
            if let action = IRCRoomText.action(text) { return .say(room: channel, kind: .action, text: action, id: id, time: time) }
            return .say(room: channel, kind: kind == .notice ? .notice : .message, text: text, id: id, time: time)
        case .topic(let channel, _, let topic):
            return .setTopic(room: channel, text: topic)
        case .nickChanged(_, let new), .registered(let new):
            // The nick other gateways see is that of the client most recently registered or renamed here.
            return .rename(nick: new)
        case .quit, .directMessage, .remoteDirectMessage:
            // Private messages between local clients are not kept (a gateway serves one person); those to remote
            // people come through `carry`.
            return nil
        }
    }

    /// The IRC events a room event makes (a long line makes several; the first keeps the entry's msgid). `account`: whose
    /// clients a direct line is for (nil: every local client, on a gateway without accounts).
    /// `hiddenFrom`: the accounts whose clients do not get a room line (they ignore its author).
    static func backendEvents(for event: RoomEvent, account: String? = nil, hiddenFrom: Set<String> = []) -> [BackendEvent] {
        switch event {
        case .memberJoined(let room, let member):
            return [.remoteJoined(channel: room, user: IRCRoomMember.remoteUser(member, room: room))]
        case .memberLeft(let room, let memberID, let reason):
            return [.remoteParted(channel: room, userID: memberID, reason: IRCRoomText.oneLine(reason))]
        case .memberRenamed(let memberID, let nick):
            return [.remoteNick(userID: memberID, newNick: nick)]
        case .memberIdentified(let room, let formerID, let member):
            return [
                .remoteParted(channel: room, userID: formerID, reason: "Identified"),
                .remoteJoined(channel: room, user: IRCRoomMember.remoteUser(member, room: room)),
            ]
        case .line(let room, let line):
            let kind: ChatLineKind = line.kind == .notice ? .notice : .privmsg
            return IRCRoomText.lines(IRCRoomText.cleaned(line.text)).enumerated().map { part, piece in
                .remoteMessage(
                    channel: room, userID: line.author.id, kind: kind,
                    text: line.kind == .action ? IRCRoomText.wrapAction(piece) : piece,
                    id: part == 0 ? line.id : "\(line.id).\(part)", time: line.time, hiddenFrom: hiddenFrom)
            }
        case .topicChanged(let room, let memberID, let topic):
            return [.remoteTopic(channel: room, userID: memberID, topic: IRCRoomText.oneLine(topic))]
        case .roomBegan(let room, let time):
            return [.channelCreated(channel: room, time: time)]
        case .gatewayNotice(let room, let text):
            return [.serviceNotice(channel: room, text: IRCRoomText.oneLine(text))]
        case .joinRefused(let room, _, let reason):
            return [.joinRefused(channel: room, account: account, reason: IRCRoomText.oneLine(reason))]
        case .directLine(_, let line):
            let kind: ChatLineKind = line.kind == .notice ? .notice : .privmsg
            let user = IRCRoomMember.remoteUser(line.author, room: "a private conversation")
            return IRCRoomText.lines(IRCRoomText.cleaned(line.text)).enumerated().map { part, piece in
                .remotePrivateMessage(
                    user: user, kind: kind, text: line.kind == .action ? IRCRoomText.wrapAction(piece) : piece,
                    id: part == 0 ? line.id : "\(line.id).\(part)", time: line.time, account: account)
            }
        }
    }

    public func history(_ query: HistoryQuery) async -> [ChatLine] {
        await history(query, account: nil)
    }

    /// A room's history, or a direct conversation's of the person of `account`.
    public func history(_ query: HistoryQuery, account: String?) async -> [ChatLine] {
        if let remote = PrivateConversation.remoteTarget(of: query.channel) {
            // A direct conversation: our lines went to them, theirs came to us.
            guard let person = try? self.person(of: account),
                case .person(let identity) = await DirectTarget.resolve(userID: remote.userID, target: remote.target, gateway: gateway)
            else { return [] }
            let lines = await gateway.directHistory(with: identity, for: person, window: Self.window(of: query))
            let ownNick = await gateway.localNick(of: person) ?? "*"
            // Our lines went to them as the client names them now (the query's target), so they file with theirs.
            let theirNick = remote.target.isEmpty ? lines.first(where: { !$0.isLocal })?.author.nick ?? ZBase32.encode(identity) : remote.target
            return lines.map { Self.chatLine($0, to: $0.isLocal ? theirNick : ownNick) }
        }
        // Only channels are rooms; another private conversation key never names one.
        guard !PrivateConversation.isConversation(query.channel) else { return [] }
        guard let person = try? self.person(of: account) else { return [] }
        let lines = await gateway.history(room: query.channel, window: Self.window(of: query), for: person)
        return lines.map { Self.chatLine($0, to: query.channel) }
    }

    static func chatLine(_ line: RoomLine, to target: String) -> ChatLine {
        let text = IRCRoomText.oneLine(line.text)
        return ChatLine(
            id: line.id, time: line.time, channel: target, source: IRCRoomMember.mask(line.author, isLocal: line.isLocal),
            kind: line.kind == .notice ? .notice : .privmsg, text: line.kind == .action ? IRCRoomText.wrapAction(text) : text)
    }

    /// A CHATHISTORY request as a window of the room's history (one IRC line per room line, so limits carry over).
    static func window(of query: HistoryQuery) -> RoomHistoryWindow {
        func reference(_ reference: HistoryReference) -> RoomHistoryWindow.Reference {
            switch reference {
            case .messageID(let id): .messageID(id)
            // At the precision the `time` tag showed it, by the IRC core's own rule.
            case .timestamp(let time): .time(UInt64(max(0, HistoryWindow.milliseconds(time))))
            }
        }
        switch query {
        case .latest(_, let limit): return .latest(limit: limit)
        case .before(_, let at, let limit): return .before(reference(at), limit: limit)
        case .after(_, let at, let limit): return .after(reference(at), limit: limit)
        case .around(_, let at, let limit): return .around(reference(at), limit: limit)
        case .between(_, let from, let to, let limit): return .between(reference(from), reference(to), limit: limit)
        }
    }

    /// Rooms and direct conversations (named by the other person's nick), each with its latest line in the window.
    public func historyTargets(_ query: HistoryTargetsQuery) async -> [HistoryTarget] {
        await historyTargets(query, account: nil)
    }

    public func historyTargets(_ query: HistoryTargetsQuery, account: String?) async -> [HistoryTarget] {
        guard let person = try? self.person(of: account) else { return [] }
        var found: [HistoryTarget] = []
        for channel in query.channels where !PrivateConversation.isConversation(channel) {
            if let latest = await gateway.latestLineTime(room: channel, for: person) {
                found.append(HistoryTarget(name: channel, latest: latest))
            }
        }
        for conversation in await gateway.conversations(for: person) {
            if let latest = conversation.latest { found.append(HistoryTarget(name: conversation.nick, latest: latest)) }
        }
        return query.select(found)
    }

    /// Logins to the gateway's accounts (`AccountLogins`); without accounts, SASL answers "failed" (clients then
    /// register without: the gateway serves its owner on loopback).
    /// A login granted makes the gateway speak for the account's person (if it did not already: an account added since
    /// it started) before anything the client does reaches it.
    public func verdict(_ credentials: SASLCredentials) async -> AuthenticationVerdict {
        guard let logins else { return .refused }
        let verdict = await logins.verdict(credentials)
        guard case .granted(let login) = verdict else { return verdict }
        guard let person = logins.people.person(of: login.account) else {
            return .unavailable("the gateway could not read your account's identity; try again later")
        }
        gateway.addPerson(person.keyPair)
        return verdict
    }

    /// IRCv3 `REGISTER`, when an admin opened self-registration: the new account is a person of its own at once.
    public func register(account: String, email: String?, password: String) async -> AccountRegistrationOutcome {
        guard let logins else { return .unavailable("this gateway has no accounts database") }
        let outcome = await logins.register(account: account, password: password)
        guard case .registered(let login) = outcome else { return outcome }
        guard let person = logins.people.person(of: login.account) else {
            return .unavailable("the account was made, but its identity could not be read: log in again in a moment")
        }
        gateway.addPerson(person.keyPair)
        return outcome
    }

    public func authenticate(_ credentials: SASLCredentials) async -> AccountLogin? {
        if case .granted(let login) = await verdict(credentials) { return login }
        return nil
    }

    public func scramCredentials(for account: String) async -> SCRAMCredentials? {
        logins?.scramCredentials(for: account)
    }

    public func service(_ name: String, from nick: String, account: String?, text: String) async -> [String]? {
        guard name.lowercased() == PearServ.name.lowercased() else { return nil }
        return await service.handle(text, account: account)
    }
}

/// How a room member looks on IRC: `nick!pear@xxxxxxxx.pear`, the host a short fingerprint of their identity (or
/// writer key), so one person has one hostmask in every room.
enum IRCRoomMember {
    static func host(_ member: RoomMember) -> String {
        ZBase32.encode(member.identity ?? member.writer).prefix(8) + ".pear"
    }

    static func remoteUser(_ member: RoomMember, room: String) -> RemoteUser {
        var whois = ["writes to \(room) with key \(ZBase32.encode(member.writer))"]
        if let identity = member.identity { whois.insert("identity \(ZBase32.encode(identity))", at: 0) }
        // Room entries carry no real name; the nick is what clients would show anyway.
        return RemoteUser(id: member.id, nick: member.nick, user: "pear", host: host(member), realName: member.nick, whoisInfo: whois)
    }

    /// The hostmask of a history line's author (our own lines say `~pear`).
    static func mask(_ member: RoomMember, isLocal: Bool) -> String {
        "\(member.nick)!\(isLocal ? "~pear" : "pear")@\(host(member))"
    }
}
