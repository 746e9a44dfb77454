import Foundation

extension IRCServerState {
    mutating func handleWho(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        let mask = params.first ?? "*"
        // WHOX: `WHO <mask> %<fields>[,<token>]`.
        let whox = params.count > 1 && params[1].hasPrefix("%")
            ? Self.parseWhox(String(params[1].dropFirst())) : nil
        var matches: [(ClientRecord, ChannelRecord?)] = []
        if let channel = channels[fold(mask)] {
            if !channel.secret || channel.members[id] != nil {
                matches = visibleMembers(of: channel).compactMap { member in clients[member].map { ($0, channel) } }
            }
        } else {
            let shared = neighbours(of: id)
            let wantsOperators = params.count > 1 && params[1].contains("o") && whox == nil
            matches = clients.values.filter { ($0.isRegistered || $0.isRemote) && $0.nick != nil && $0.attachedTo == nil }
                .filter { mask == "*" || mask == "0" || Self.maskMatches(mask, $0.nick ?? "") || Self.maskMatches(mask, $0.mask) }
                .filter { !wantsOperators || $0.isOperator }
                // Invisible users show only to those sharing a channel, or when asked for by exact nick.
                .filter { !$0.invisible || samePerson($0.id, id) || shared.contains($0.id) || fold($0.nick ?? "") == fold(mask) }
                .sorted { $0.id < $1.id }
                .map { target in (target, firstSharedChannel(id, target.id)) }
        }
        for (target, channel) in matches {
            let flags = (target.away == nil ? "H" : "G") + (target.isOperator ? "*" : "")
                + (channel.map { $0.prefix(of: target.id, multiPrefix: client.has("multi-prefix")) } ?? "")
            let channelName = channel?.name ?? "*"
            if let whox {
                var fields: [String] = []
                for field in whox.fields {
                    switch field {
                    case "t": fields.append(whox.token ?? "0")
                    case "c": fields.append(channelName)
                    case "u": fields.append(target.user ?? "*")
                    case "i": fields.append("255.255.255.255")
                    case "h": fields.append(target.visibleHost)
                    case "s": fields.append(configuration.serverName)
                    case "n": fields.append(target.nick ?? "*")
                    case "f": fields.append(flags)
                    case "d": fields.append("0")
                    case "l": fields.append("0")
                    case "a": fields.append(target.account ?? "0")
                    case "o": fields.append("0")
                    case "r": fields.append(target.realName ?? "")
                    default: break
                    }
                }
                reply(client, .rplWhoSpcRpl, fields)
            } else {
                reply(client, .rplWhoReply, [
                    channelName, target.user ?? "*", target.visibleHost, configuration.serverName, target.nick ?? "*", flags,
                    "0 \(target.realName ?? "")",
                ])
            }
        }
        reply(client, .rplEndOfWho, [mask, "End of WHO list"])
    }

    /// WHOX fields in the order servers send them, plus the query token.
    static func parseWhox(_ spec: String) -> (fields: [Character], token: String?) {
        let parts = spec.split(separator: ",", maxSplits: 1)
        let requested = Set(parts.first ?? "")
        let order: [Character] = ["t", "c", "u", "i", "h", "s", "n", "f", "d", "l", "a", "o", "r"]
        return (order.filter { requested.contains($0) }, parts.count > 1 ? String(parts[1]) : nil)
    }

    func firstSharedChannel(_ a: ClientID, _ b: ClientID) -> ChannelRecord? {
        channels.values.sorted { $0.name < $1.name }.first { $0.members[a] != nil && $0.members[b] != nil }
    }

    mutating func handleWhois(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        guard let nickList = params.last, !nickList.isEmpty else {
            reply(client, .errNoNicknameGiven, ["No nickname given"])
            return
        }
        for nick in nickList.split(separator: ",").prefix(configuration.maximumTargets).map(String.init) {
            guard let targetID = nicks[fold(nick)], let target = clients[targetID], let targetNick = target.nick else {
                reply(client, .errNoSuchNick, [nick, "No such nick/channel"])
                reply(client, .rplEndOfWhois, [nick, "End of /WHOIS list"])
                continue
            }
            reply(client, .rplWhoisUser, [targetNick, target.user ?? "*", target.visibleHost, "*", target.realName ?? ""])
            let visible = target.joinedChannels.sorted().compactMap { folded -> String? in
                guard let channel = channels[folded], !channel.secret || channel.members[id] != nil else { return nil }
                // A remote user's rooms are known here only through this server's users: show those the asker shares.
                if target.isRemote, channel.members[id] == nil { return nil }
                return channel.prefix(of: targetID, multiPrefix: client.has("multi-prefix")) + channel.name
            }
            if !visible.isEmpty { reply(client, .rplWhoisChannels, [targetNick, visible.joined(separator: " ")]) }
            reply(client, .rplWhoisServer, [targetNick, configuration.serverName, configuration.networkName])
            if target.isOperator { reply(client, .rplWhoisOperator, [targetNick, "is an IRC operator"]) }
            if let account = target.account { reply(client, .rplWhoisAccount, [targetNick, account, "is logged in as"]) }
            if target.secure { reply(client, .rplWhoisSecure, [targetNick, "is using a secure connection"]) }
            // The certificate fingerprint identifies a person across networks: only they and operators see it.
            if let fingerprint = target.certificateFingerprint, samePerson(targetID, id) || client.isOperator {
                reply(client, .rplWhoisCertFP, [targetNick, "has client certificate fingerprint \(fingerprint)"])
            }
            for line in target.whoisInfo { reply(client, .rplWhoisSpecial, [targetNick, line]) }
            if let away = target.away { reply(client, .rplAway, [targetNick, away]) }
            reply(client, .rplEndOfWhois, [targetNick, "End of /WHOIS list"])
        }
    }

    /// `CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN <target> …` (draft/chathistory); TARGETS lists channels.
    mutating func handleChatHistory(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        func fail(_ code: String, _ text: String) {
            emit(id, IRCMessage(source: serverSource, command: .verb("FAIL"), params: ["CHATHISTORY", code] + params.prefix(2) + [text]))
        }
        guard params.count >= 3 else {
            fail("NEED_MORE_PARAMS", "Missing parameters")
            return
        }
        let subcommand = params[0].uppercased()
        func reference(_ text: String) -> HistoryReference? {
            if text == "*" { return nil }
            let parts = text.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            switch parts[0] {
            case "msgid": return .messageID(String(parts[1]))
            case "timestamp":
                return IRCServerTime.parse(String(parts[1])).map { .timestamp($0) }
            default: return nil
            }
        }
        if subcommand == "TARGETS" {
            // `TARGETS <timestamp> <timestamp> <limit>`: channels and conversations whose latest message falls
            // strictly between the two instants.
            guard params.count >= 4, case .timestamp(let from)? = reference(params[1]),
                case .timestamp(let to)? = reference(params[2]), let limit = Int(params[3]), limit > 0
            else {
                fail("INVALID_PARAMS", "TARGETS takes two timestamps and a limit")
                return
            }
            let names = client.joinedChannels.sorted().compactMap { channels[$0]?.name }
            actions.append(.fetchTargets(id, HistoryTargetsQuery(
                channels: names, participant: historyParticipant(client) ?? "", from: from, to: to,
                limit: min(limit, historyReplyLimit))))
            return
        }
        let target = params[1]
        let historyKey: String
        let shownTarget: String
        if validation.isValidChannel(target) {
            guard let channel = channels[fold(target)], channel.members[id] != nil else {
                fail("INVALID_TARGET", "Messages could not be retrieved")
                return
            }
            historyKey = channel.name
            shownTarget = channel.name
        } else if configuration.carriesRemotePrivateMessages {
            // The backend keeps private conversations with remote people: named by the remote user's id when they
            // are known here, else as the client wrote the target (a nick the backend knows, or a key).
            let remote = nicks[fold(target)].flatMap { clients[$0] }.flatMap { $0.isRemote ? $0.remoteID : nil }
            historyKey = PrivateConversation.remoteKey(userID: remote, target: target)
            shownTarget = target
        } else {
            // Private history is kept for accounts only: a nick can pass to someone else, an account cannot.
            guard let own = historyParticipant(client) else {
                sendHistory(to: client, lines: [], batchType: "chathistory", target: target)
                return
            }
            // The other side as they are now if connected here, else as they were in our latest conversation
            // under that nick (they may have gone offline), else by nick.
            let other = nicks[fold(target)].flatMap { clients[$0] }.flatMap { $0.isRemote ? nil : $0 }
            let otherParticipant = other.map(participant)
                ?? recentPartners[own]?[fold(target)]
                ?? PrivateConversation.participant(account: nil, nick: target, fold: fold)
            historyKey = PrivateConversation.key(own, otherParticipant)
            // Named back as the client wrote it (irctest checks the batch parameter against the query).
            shownTarget = target
        }
        let limitText = params.last ?? "0"
        guard let limit = Int(limitText), limit > 0 else {
            fail("INVALID_PARAMS", "Invalid limit")
            return
        }
        let capped = min(limit, historyReplyLimit)
        let query: HistoryQuery?
        switch subcommand {
        case "LATEST":
            if params[2] == "*" {
                query = .latest(channel: historyKey, limit: capped)
            } else {
                // The latest messages after a reference: the newest end of the window (reference, now].
                query = reference(params[2]).map {
                    .between(channel: historyKey, from: .timestamp(now.addingTimeInterval(1)), to: $0, limit: capped)
                }
            }
        case "BEFORE":
            query = reference(params[2]).map { .before(channel: historyKey, reference: $0, limit: capped) }
        case "AFTER":
            query = reference(params[2]).map { .after(channel: historyKey, reference: $0, limit: capped) }
        case "AROUND":
            query = reference(params[2]).map { .around(channel: historyKey, reference: $0, limit: capped) }
        case "BETWEEN":
            guard params.count >= 5, let from = reference(params[2]), let to = reference(params[3]) else {
                fail("INVALID_PARAMS", "Invalid message references")
                return
            }
            query = .between(channel: historyKey, from: from, to: to, limit: capped)
        default:
            fail("INVALID_PARAMS", "Unknown subcommand")
            return
        }
        guard let query else {
            fail("INVALID_PARAMS", "Invalid message reference")
            return
        }
        actions.append(.fetchHistory(id, query, batchType: "chathistory", target: shownTarget, onJoin: false))
    }

    /// CHATHISTORY TARGETS answers, in a `draft/chathistory-targets` batch when the client negotiated batches.
    mutating func sendTargets(to client: ClientRecord, targets: [HistoryTarget]) {
        let id = client.id
        messageCounter += 1
        let batch = "targets\(messageCounter)"
        if client.has("batch") {
            emit(id, IRCMessage(source: serverSource, command: .verb("BATCH"), params: ["+" + batch, "draft/chathistory-targets"]))
        }
        for target in targets {
            var tags = IRCTags()
            if client.has("batch") { tags.set("batch", batch) }
            emit(id, IRCMessage(
                tags: tags, source: serverSource, command: .verb("CHATHISTORY"),
                params: ["TARGETS", target.name, Self.serverTime(target.latest)]))
        }
        if client.has("batch") { emit(id, IRCMessage(source: serverSource, command: .verb("BATCH"), params: ["-" + batch])) }
    }

    /// History lines, in a `chathistory` batch when the client negotiated batches.
    mutating func sendHistory(to client: ClientRecord, lines: [ChatLine], batchType: String, target: String) {
        let id = client.id
        let useBatch = client.has("batch")
        messageCounter += 1
        let batch = "history\(messageCounter)"
        if useBatch {
            emit(id, IRCMessage(source: serverSource, command: .verb("BATCH"), params: ["+" + batch, batchType, target]))
        }
        for line in lines {
            var tags = IRCTags()
            tags.set("msgid", line.id)
            tags.set("time", Self.serverTime(line.time))
            if useBatch { tags.set("batch", batch) }
            let source = nicks[fold(line.source)].flatMap { clients[$0]?.source }
                ?? IRCSource(parsing: line.source.contains("!") ? line.source : line.source + "!pear@history.pear")
            // A private line keeps the recipient it had; a channel line shows the channel as the client knows it.
            let lineTarget = validation.isValidChannel(target) ? target : line.channel
            emit(id, IRCMessage(tags: tags, source: source, command: .verb(line.kind.rawValue), params: [lineTarget, line.text]))
        }
        if useBatch { emit(id, IRCMessage(source: serverSource, command: .verb("BATCH"), params: ["-" + batch])) }
    }
}
