import Foundation

extension IRCServerState {
    /// PRIVMSG, NOTICE and TAGMSG to channels and nicks, with `msgid`/`time` tags and echo-message.
    mutating func handleMessage(_ command: String, _ message: IRCMessage, from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        let isTagMessage = command == "TAGMSG"
        guard let targets = message.params.first, !targets.isEmpty else {
            if command != "NOTICE" { reply(client, .errNoRecipient, ["No recipient given (\(command))"]) }
            return
        }
        let text = message.params.count > 1 ? message.params[1] : ""
        if !isTagMessage, text.isEmpty {
            if command != "NOTICE" { reply(client, .errNoTextToSend, ["No text to send"]) }
            return
        }
        let targetList = targets.split(separator: ",").map(String.init)
        guard targetList.count <= configuration.maximumTargets else {
            reply(client, .errTooManyTargets, [targets, "Too many targets"])
            return
        }
        // Client-only tags (`+…`) travel with the message; everything else is the server's to set.
        var tags = IRCTags(message.tags.filter { $0.isClientOnly })
        if isTagMessage, tags.isEmpty { return }
        let messageID = nextMessageID(for: client.account)
        tags.set("msgid", messageID)
        tags.set("time", Self.serverTime(now))
        if let account = client.account { tags.set("account", account) }

        for target in targetList {
            var outgoing = IRCMessage(
                tags: tags, source: client.source, command: .verb(command),
                params: isTagMessage ? [target] : [target, text])
            // STATUSMSG: `@#chan` reaches the channel's operators only.
            let statusPrefix = target.first.flatMap { "@+".contains($0) ? $0 : nil }
            let channelName = statusPrefix == nil ? target : String(target.dropFirst())
            if validation.isValidChannel(channelName) {
                let folded = fold(channelName)
                guard let channel = channels[folded] else {
                    if command != "NOTICE" { reply(client, .errNoSuchChannel, [target, "No such channel"]) }
                    continue
                }
                let member = channel.members[id] != nil
                if (channel.noExternal && !member) || (channel.moderated && !channel.isOperator(id) && !channel.isVoiced(id))
                    || channel.bans.contains(where: { Self.maskMatches($0, client.mask) }) && !channel.isOperator(id)
                {
                    if command != "NOTICE" { reply(client, .errCannotSendToChan, [channel.name, "Cannot send to channel"]) }
                    continue
                }
                outgoing.params[0] = (statusPrefix.map(String.init) ?? "") + channel.name
                let request = BackendRequest.message(
                    channel: channel.name, nick: client.nick ?? "", kind: command == "NOTICE" ? .notice : .privmsg,
                    text: text, id: messageID, time: now)
                if configuration.channelLinesAwaitStorage, !isTagMessage, statusPrefix == nil {
                    // Seen by nobody until it is stored: a line shown as sent is never lost.
                    let token = holdUntilStored(outgoing, in: folded, from: id, command: command)
                    actions.append(.storeLine(id, token: token, request, answersLate: processingLabeledCommand, account: client.account))
                    continue
                }
                showChannelLine(outgoing, in: channel, from: id, statusPrefix: statusPrefix)
                if !isTagMessage, statusPrefix == nil { tellBackend(request, by: client) }
                continue
            }
            if let service = configuration.serviceNames.first(where: { fold($0) == fold(target) }) {
                if client.has("echo-message") { emit(id, outgoing) }
                for session in sessions(of: id) where session != id { emit(session, outgoing) }
                if !isTagMessage { actions.append(.service(id, service: service, text: text)) }
                continue
            }
            let recipientID = nicks[fold(target)]
            let recipient = recipientID.flatMap { clients[$0] }
            if configuration.carriesRemotePrivateMessages, recipient?.isRemote ?? true {
                // Someone not connected here, or not known here at all (the backend may know them from elsewhere,
                // or by key): the backend carries it, and the sender sees it once it is stored.
                guard !isTagMessage else { continue }
                let shownTarget = recipient?.nick ?? target
                outgoing.params[0] = shownTarget
                let request = BackendRequest.remoteDirectMessage(
                    userID: recipient?.remoteID, target: shownTarget, nick: client.nick ?? "",
                    kind: command == "NOTICE" ? .notice : .privmsg, text: text, id: messageID, time: now)
                let token = holdUntilStored(outgoing, in: nil, from: id, command: command)
                actions.append(.carryPrivate(id, token: token, request, answersLate: processingLabeledCommand, account: client.account))
                continue
            }
            guard let recipientID, let recipient else {
                if command != "NOTICE" { reply(client, .errNoSuchNick, [target, "No such nick/channel"]) }
                continue
            }
            if recipient.isRemote {
                // Nothing carries it: an honest error, never an echo as if delivered. NOTICE and TAGMSG get no
                // answer (no automatic replies to notices; typing notifications are best effort).
                if command == "PRIVMSG" { reply(client, .errNoSuchNick, [recipient.nick ?? target, configuration.remotePrivateMessageRefusal]) }
                continue
            }
            outgoing.params[0] = recipient.nick ?? target
            // Every connection of the recipient gets it, and the sender's other connections see what it sent
            // (`Sessions.swift`).
            let recipientSessions = sessions(of: recipientID)
            for session in recipientSessions {
                if session == id, client.has("echo-message") {
                    // To oneself with echo-message: the echo is the labeled answer, the delivered copy is not.
                    emitOutsideLabel(session, outgoing)
                } else {
                    emit(session, outgoing)
                }
            }
            for session in sessions(of: id) where session != id && !recipientSessions.contains(session) {
                emit(session, outgoing)
            }
            if client.has("echo-message") { emit(id, outgoing) }
            if command == "PRIVMSG", let away = recipient.away {
                reply(client, .rplAway, [recipient.nick ?? target, away])
            }
            // Filed only when an account takes part: only account holders can read private history back, so a
            // conversation between two nicks would be kept for nobody.
            if !isTagMessage, !recipient.isRemote, client.account != nil || recipient.account != nil {
                let sender = participant(client), receiver = participant(recipient)
                notePartner(receiver, nick: recipient.nick ?? target, for: sender)
                notePartner(sender, nick: client.nick ?? "", for: receiver)
                tellBackend(
                    .directMessage(
                        conversation: PrivateConversation.key(sender, receiver), sender: sender, recipient: receiver,
                        nick: client.nick ?? "", target: recipient.nick ?? target,
                        kind: command == "NOTICE" ? .notice : .privmsg, text: text, id: messageID, time: now),
                    by: client)
            }
        }
    }

    /// A channel line reaches the channel's other members (with STATUSMSG, `@#chan` only its operators, `+#chan`
    /// its operators and voiced members) and, with echo-message, its sender. Away users in a channel are not
    /// notified; only direct messages get RPL_AWAY.
    mutating func showChannelLine(_ message: IRCMessage, in channel: ChannelRecord, from sender: ClientID, statusPrefix: Character?) {
        emitToEach(channel.members.keys.sorted().filter { recipient in
            guard recipient != sender else { return false }
            guard let statusPrefix else { return true }
            return statusPrefix == "@" ? channel.isOperator(recipient)
                : channel.isOperator(recipient) || channel.isVoiced(recipient)
        }, message)
        if clients[sender]?.has("echo-message") == true { emit(sender, message) }
    }

    /// A client as a private-history participant (`PrivateConversation`).
    func participant(_ client: ClientRecord) -> String {
        PrivateConversation.participant(account: client.account, nick: client.nick ?? "*", fold: fold)
    }

    /// The participant whose private history a client may read: their account's, or none when not logged in.
    func historyParticipant(_ client: ClientRecord) -> String? {
        client.account == nil ? nil : participant(client)
    }

    /// Remembers who `participant` last wrote with under `nick`, so CHATHISTORY by nick finds the conversation
    /// when that person is offline. Bounded: the oldest partners are forgotten past `maximumRecentPartners`.
    mutating func notePartner(_ partner: String, nick: String, for participant: String) {
        guard participant.hasPrefix("account:") else { return }
        var partners = recentPartners[participant, default: [:]]
        partners[fold(nick)] = partner
        if partners.count > Self.maximumRecentPartners, let any = partners.keys.first(where: { $0 != fold(nick) }) {
            partners.removeValue(forKey: any)
        }
        recentPartners[participant] = partners
    }

    mutating func handleAway(_ params: [String], from id: ClientID) {
        guard var client = clients[id] else { return }
        let message = params.first.flatMap { $0.isEmpty ? nil : String($0.prefix(configuration.awayLength)) }
        client.away = message
        clients[id] = client
        // Away is the person's: every connection of theirs hears it.
        for session in sessions(of: id) {
            guard let told = clients[session] else { continue }
            if message == nil {
                reply(told, .rplUnaway, ["You are no longer marked as being away"])
            } else {
                reply(told, .rplNowAway, ["You have been marked as being away"])
            }
        }
        let notification = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("AWAY"), params: message.map { [$0] } ?? [])
        for other in othersToTell(about: id) where clients[other]?.has("away-notify") == true {
            emit(other, notification)
        }
    }

    mutating func handleSetName(_ params: [String], from id: ClientID) {
        guard var client = clients[id] else { return }
        guard let name = params.first, !name.isEmpty else {
            reply(client, .errNeedMoreParams, ["SETNAME", "Not enough parameters"])
            return
        }
        client.realName = name
        clients[id] = client
        let message = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("SETNAME"), params: [name])
        if client.has("setname") { emit(id, message) }
        for other in othersToTell(about: id) where clients[other]?.has("setname") == true { emit(other, message) }
    }
}
