import Foundation

extension IRCServerState {
    /// Something a remote user did, reported by the backend.
    public mutating func backendEvent(_ event: BackendEvent, now: Date) -> [IRCServerAction] {
        switch event {
        case .remoteJoined(let channel, let user):
            let id = remoteClient(for: user, now: now)
            join(id, channel: channel, key: nil, now: now)
        case .remoteParted(let channel, let userID, let reason):
            if let id = remoteUsers[userID] {
                part(id, channel: channel, reason: reason.isEmpty ? nil : reason, now: now)
                if clients[id]?.joinedChannels.isEmpty == true { quit(id, reason: "Left all rooms", now: now, notifySelf: false) }
            }
        case .remoteQuit(let userID, let reason):
            if let id = remoteUsers[userID] { quit(id, reason: reason, now: now, notifySelf: false) }
        case .remoteNick(let userID, let newNick):
            guard let id = remoteUsers[userID], var client = clients[id], client.nick != newNick else { break }
            let unique = uniqueRemoteNick(newNick, for: id)
            let oldSource = client.source
            if let old = client.nick { nicks.removeValue(forKey: fold(old)) }
            client.nick = unique
            nicks[fold(unique)] = id
            clients[id] = client
            let message = IRCMessage(source: oldSource, command: .verb("NICK"), params: [unique])
            for other in neighbours(of: id) { emit(other, message) }
            if fold(oldSource.nick) != fold(unique) {
                notifyMonitors(nick: oldSource.nick, mask: nil)
                notifyMonitors(nick: unique, mask: client.mask)
            }
        case .remoteMessage(let channel, let userID, let kind, let text, let messageID, let time, let hiddenFrom):
            guard let id = remoteUsers[userID], let client = clients[id], let room = channels[fold(channel)] else { break }
            var tags = IRCTags()
            tags.set("msgid", messageID)
            tags.set("time", Self.serverTime(time))
            let hidden = Set(hiddenFrom.map(fold))
            emitToEach(
                room.members.keys.sorted().filter { member in
                    member != id && (hidden.isEmpty || clients[member]?.account.map { hidden.contains(fold($0)) } != true)
                },
                IRCMessage(tags: tags, source: client.source, command: .verb(kind.rawValue), params: [room.name, text]))
        case .remoteTopic(let channel, let userID, let topic):
            guard let id = remoteUsers[userID], let client = clients[id], var room = channels[fold(channel)] else { break }
            setTopic(&room, topic, by: client, now: now)
            channels[fold(channel)] = room
        case .accountChanged(let account, let login):
            accountChanged(account, login: login, now: now)
        case .joinRefused(let channel, let account, let reason):
            guard let room = channels[fold(channel)] else { break }
            let refused = room.members.keys.sorted().filter { id in
                guard let client = clients[id], !client.isRemote else { return false }
                return account == nil || client.account.map(fold) == account.map(fold)
            }
            for id in refused {
                if let client = clients[id] { reply(client, .errBadChannelKey, [room.name, "Cannot join channel (+k): \(reason)"]) }
            }
            // Every session of the person leaves with the first (`part` takes them all).
            if let first = refused.first { part(first, channel: channel, reason: reason, now: now, tellBackend: false) }
        case .channelCreated(let channel, let time):
            channels[fold(channel)]?.created = time
        case .serviceNotice(let channel, let text):
            let targets: [ClientID]
            if let channel, let room = channels[fold(channel)] {
                targets = room.members.keys.sorted()
            } else {
                targets = clients.values.filter { $0.isRegistered && !$0.isRemote }.map(\.id).sorted()
            }
            for target in targets {
                emit(target, IRCMessage(source: serverSource, command: .verb("NOTICE"), params: [clients[target]?.nick ?? "*", text]))
            }
        case .remotePrivateMessage(let user, let kind, let text, let messageID, let time, let account):
            // From the remote user as shown here; someone sharing no channel with us (a stranger, or a person not
            // present right now) becomes a remote user first, so they never show under a nick someone else holds
            // here (or an invalid one), and an answer to their nick reaches them.
            guard let source = clients[remoteClient(for: user, now: now)]?.source else { break }
            var tags = IRCTags()
            tags.set("msgid", messageID)
            tags.set("time", Self.serverTime(time))
            let message = IRCMessage(tags: tags, source: source, command: .verb(kind.rawValue), params: ["*", text])
            let recipient = account.map(fold)
            let local = clients.values.filter { client in
                client.isRegistered && !client.isRemote && (recipient == nil || client.account.map(fold) == recipient)
            }.map(\.id).sorted()
            if local.isEmpty {
                // Nobody to show it to: kept for the recipient's next client (bounded; the history has it all).
                privateMessagesWhileAway.append(.init(message: message, account: recipient))
                if privateMessagesWhileAway.count > configuration.privateMessagesKeptWhileAway {
                    privateMessagesWhileAway.removeFirst(privateMessagesWhileAway.count - configuration.privateMessagesKeptWhileAway)
                }
            }
            for id in local {
                var addressed = message
                addressed.params[0] = clients[id]?.nick ?? "*"
                emit(id, addressed)
            }
        }
        return drain()
    }

    /// A private message that arrived while none of its recipient's clients was connected.
    struct PrivateMessageWhileAway: Sendable {
        let message: IRCMessage
        /// Whose it is (a folded account name), or nil for whichever local client comes first.
        let account: String?
    }

    /// Private messages that arrived while no client of theirs was connected, to a client that just registered.
    mutating func deliverPrivateMessagesWhileAway(to id: ClientID) {
        guard !privateMessagesWhileAway.isEmpty, let nick = clients[id]?.nick else { return }
        let account = clients[id]?.account.map(fold)
        var kept: [PrivateMessageWhileAway] = []
        for waiting in privateMessagesWhileAway {
            guard waiting.account == nil || waiting.account == account else {
                kept.append(waiting)
                continue
            }
            var message = waiting.message
            message.params[0] = nick
            emit(id, message)
        }
        privateMessagesWhileAway = kept
    }

    /// The client standing for a remote user, created on first sight.
    mutating func remoteClient(for user: RemoteUser, now: Date) -> ClientID {
        if let id = remoteUsers[user.id] { return id }
        let id = ClientID(nextRemoteID)
        nextRemoteID += 1
        // Not "using a secure connection" (RPL_WHOISSECURE): how they reach their own server is not ours to claim.
        var record = ClientRecord(id: id, host: user.host, secure: false, certificateFingerprint: nil, connectedAt: now)
        record.isRemote = true
        record.remoteID = user.id
        record.user = user.user
        record.realName = user.realName
        record.whoisInfo = user.whoisInfo
        record.registration = .registered
        clients[id] = record
        let nick = uniqueRemoteNick(user.nick, for: id)
        clients[id]?.nick = nick
        nicks[fold(nick)] = id
        remoteUsers[user.id] = id
        if let mask = clients[id]?.mask { notifyMonitors(nick: nick, mask: mask) }
        return id
    }

    /// A remote user never takes a nick in use here: a clash gets `_` appended until it is free.
    func uniqueRemoteNick(_ wanted: String, for id: ClientID) -> String {
        var candidate = validation.isValidNick(wanted) ? wanted : "pear-user"
        while let holder = nicks[fold(candidate)], holder != id { candidate += "_" }
        return candidate
    }
}
