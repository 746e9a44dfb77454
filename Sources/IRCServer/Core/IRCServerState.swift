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
    /// Close a client's connection (after what was queued for it).
    case close(ClientID)
    /// Tell the backend what a local user did.
    case backend(BackendRequest)
    /// Check SASL PLAIN credentials; answer with `authenticationFinished`.
    case authenticate(ClientID, user: String, password: String)
    /// Ask the backend for history; answer with `historyReady`.
    case fetchHistory(ClientID, HistoryQuery, batchType: String, target: String)
    /// A message to a service user; answer with `serviceReplied`.
    case service(ClientID, service: String, text: String)
}

/// The whole IRC server as a value: clients, nicks, channels. Inputs are connection events, parsed messages,
/// time and backend events; outputs are `IRCServerAction`s. No sockets, clocks or randomness of its own, so
/// every behaviour is tested by feeding messages and reading what it would send.
public struct IRCServerState: Sendable {
    public let configuration: IRCServerConfiguration
    public let casemapping: IRCCasemapping = .rfc1459
    let validation: IRCNameValidation
    let created: Date
    var clients: [ClientID: ClientRecord] = [:]
    /// Folded nick → client.
    var nicks: [String: ClientID] = [:]
    /// Folded channel name → channel.
    var channels: [String: ChannelRecord] = [:]
    /// Remote user id → the client id standing for them.
    var remoteUsers: [String: ClientID] = [:]
    var nextRemoteID: UInt64 = 1 << 62
    var actions: [IRCServerAction] = []
    var messageCounter: UInt64 = 0
    let messageIDPrefix: String

    /// - Parameter messageIDPrefix: makes `msgid`s unique across restarts; pass random text in production.
    public init(configuration: IRCServerConfiguration, created: Date, messageIDPrefix: String) {
        self.configuration = configuration
        self.created = created
        self.messageIDPrefix = messageIDPrefix
        validation = IRCNameValidation(nickLength: configuration.nickLength, channelLength: configuration.channelLength)
    }

    // MARK: - Inputs

    /// A connection was accepted.
    public mutating func connected(_ id: ClientID, host: String, secure: Bool, certificateFingerprint: String?, now: Date)
        -> [IRCServerAction]
    {
        clients[id] = ClientRecord(
            id: id, host: host, secure: secure, certificateFingerprint: certificateFingerprint, connectedAt: now)
        return drain()
    }

    /// A connection is gone (closed by either side). Its user quits.
    public mutating func disconnected(_ id: ClientID, reason: String, now: Date) -> [IRCServerAction] {
        guard clients[id] != nil else { return [] }
        quit(id, reason: reason, now: now, notifySelf: false)
        return drain()
    }

    /// A client sent a line that failed to parse.
    public mutating func malformed(_ id: ClientID, error: IRCParseError) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        switch error {
        case .tagsTooLong, .bodyTooLong:
            reply(client, .errInputTooLong, ["Input line was too long"])
        case .invalidCommand(let command):
            reply(client, .errUnknownCommand, [command, "Unknown command"])
        default:
            // Empty lines are ignored (RFC 1459); other malformed lines get no answer a client could misread.
            break
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
    public mutating func received(_ message: IRCMessage, from id: ClientID, now: Date) -> [IRCServerAction] {
        guard var client = clients[id], !client.isRemote else { return [] }
        client.lastActivity = now
        client.pingSentAt = nil
        clients[id] = client
        dispatch(message, from: id, now: now)
        return drain()
    }

    /// Time passed: registration timeouts, idle pings, ping timeouts.
    public mutating func tick(now: Date) -> [IRCServerAction] {
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

    /// The backend's verdict on SASL credentials.
    public mutating func authenticationFinished(_ id: ClientID, account: String?) -> [IRCServerAction] {
        guard var client = clients[id] else { return [] }
        client.saslInProgress = nil
        if let account {
            client.account = account
            clients[id] = client
            reply(client, .rplLoggedIn, [client.mask, account, "You are now logged in as \(account)"])
            reply(client, .rplSASLSuccess, ["SASL authentication successful"])
        } else {
            clients[id] = client
            reply(client, .errSASLFail, ["SASL authentication failed"])
        }
        return drain()
    }

    /// History the backend found for a client's request.
    public mutating func historyReady(
        _ id: ClientID, lines: [ChatLine], batchType: String, target: String, now: Date
    ) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        sendHistory(to: client, lines: lines, batchType: batchType, target: target)
        return drain()
    }

    /// A service user's answer.
    public mutating func serviceReplied(_ id: ClientID, service: String, lines: [String]) -> [IRCServerAction] {
        guard let client = clients[id] else { return [] }
        for line in lines {
            emit(id, IRCMessage(
                source: IRCSource(nick: service, user: "service", host: configuration.serverName),
                command: .verb("NOTICE"), params: [client.nick ?? "*", line]))
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
        guard let client = clients[id], !client.isRemote else { return }
        actions.append(.send(id, client.adapt(message)))
    }

    /// A numeric reply to a client: the target (nick or `*`) goes first.
    mutating func reply(_ client: ClientRecord, _ numeric: IRCNumeric, _ params: [String]) {
        emit(client.id, IRCMessage(source: serverSource, numeric, [client.nick ?? "*"] + params))
    }

    mutating func error(_ id: ClientID, _ text: String) {
        emit(id, IRCMessage(command: .verb("ERROR"), params: [text]))
        actions.append(.close(id))
    }

    mutating func nextMessageID() -> String {
        messageCounter += 1
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
