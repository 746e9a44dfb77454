import Foundation

extension IRCServerState {
    mutating func handleJoin(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard let first = params.first else {
            reply(client, .errNeedMoreParams, ["JOIN", "Not enough parameters"])
            return
        }
        if first == "0" {
            for name in client.joinedChannels.sorted() {
                part(id, channel: name, reason: client.nick ?? "", now: now)
            }
            return
        }
        let names = first.split(separator: ",").map(String.init)
        let keys = params.count > 1 ? params[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init) : []
        for (position, name) in names.enumerated() {
            join(id, channel: name, key: position < keys.count ? keys[position] : nil, now: now)
        }
    }

    mutating func join(_ id: ClientID, channel name: String, key: String?, now: Date) {
        guard let client = clients[id] else { return }
        guard validation.isValidChannel(name) else {
            reply(client, .errNoSuchChannel, [name, "No such channel"])
            return
        }
        let folded = fold(name)
        if channels[folded]?.members[id] != nil { return }
        if !client.isRemote, client.joinedChannels.count >= configuration.maximumChannelsPerClient {
            reply(client, .errTooManyChannels, [name, "You have joined too many channels"])
            return
        }
        var channel = channels[folded] ?? newChannel(name: name, created: now)
        let isNew = channel.members.isEmpty
        let localBefore = channel.members.keys.contains { clients[$0]?.isRemote == false }
        if configuration.keyedJoinsChooseRooms, !client.isRemote, localBefore, let key, key != channel.localJoinKey {
            // The channel is another room here (of no key, or another key): entering it would write there.
            reply(client, .errBadChannelKey, [channel.name, "Cannot join channel (+k): it is another room here (part it everywhere first)"])
            return
        }
        // Whether the joining client's person (their account; on a server without accounts, its one local person) is
        // in the channel already, through another client.
        let personBefore = channel.members.keys.contains { clients[$0].map { isSamePerson($0, client) } ?? false }
        if configuration.keyedJoinsChooseRooms, !client.isRemote, localBefore, !personBefore, key == nil, channel.localJoinKey != nil {
            // A keyed room here is someone else's private room: another person enters it with its key (or invite) only.
            reply(client, .errBadChannelKey, [channel.name, "Cannot join channel (+k): a private room here; join it with its key or invite"])
            return
        }
        if !client.isRemote, !localBefore { channel.localJoinKey = key }
        if !isNew, !client.isRemote {
            if let required = channel.key, required != key {
                reply(client, .errBadChannelKey, [channel.name, "Cannot join channel (+k)"])
                return
            }
            if let limit = channel.limit, visibleMemberCount(of: channel) >= limit {
                reply(client, .errChannelIsFull, [channel.name, "Cannot join channel (+l)"])
                return
            }
            if channel.inviteOnly, !channel.invited.contains(person(of: id)) {
                reply(client, .errInviteOnlyChan, [channel.name, "Cannot join channel (+i)"])
                return
            }
            if channel.bans.contains(where: { Self.maskMatches($0, client.mask) }), !channel.invited.contains(person(of: id)) {
                reply(client, .errBannedFromChan, [channel.name, "Cannot join channel (+b)"])
                return
            }
        }
        channel.invited.remove(person(of: id))
        // Every connection of the person joins (`Sessions.swift`); the first local user to create a channel
        // operates it; remote users never get local ops.
        let joining = sessions(of: id)
        for session in joining {
            channel.members[session] = isNew && !client.isRemote ? ["o"] : []
            clients[session]?.joinedChannels.insert(folded)
        }
        channels[folded] = channel

        for member in channel.members.keys.sorted() {
            guard let recipient = clients[member] else { continue }
            let params = recipient.has("extended-join")
                ? [channel.name, client.account ?? "*", client.realName ?? ""] : [channel.name]
            emit(member, IRCMessage(tags: client.accountTags, source: client.source, command: .verb("JOIN"), params: params))
            // away-notify: members learn at once that the newcomer is away.
            if !joining.contains(member), let away = client.away, recipient.has("away-notify") {
                emit(member, IRCMessage(tags: client.accountTags, source: client.source, command: .verb("AWAY"), params: [away]))
            }
        }
        guard !client.isRemote else { return }
        for session in joining {
            if channel.topic != nil { sendTopic(channel, to: session) }
            sendNames(channel, to: session)
        }
        // The key reaches the backend from each person's first JOIN (later clients of theirs enter the room it chose).
        tellBackend(.joined(channel: channel.name, nick: client.nick ?? "", key: personBefore ? nil : key), by: client)
        // History on join, for each of the person's connections that cannot ask for it itself.
        for session in joining { replayHistory(of: channel, to: session, since: nil) }
    }

    mutating func handlePart(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard let first = params.first else {
            reply(client, .errNeedMoreParams, ["PART", "Not enough parameters"])
            return
        }
        for name in first.split(separator: ",").map(String.init) {
            part(id, channel: name, reason: params.count > 1 ? params[1] : nil, now: now)
        }
    }

    /// Whether two local clients are one person to the backend: the same account, or (both without one) the one person
    /// of a server without accounts.
    func isSamePerson(_ a: ClientRecord, _ b: ClientRecord) -> Bool {
        !a.isRemote && !b.isRemote && a.account.map(fold) == b.account.map(fold)
    }

    mutating func part(_ id: ClientID, channel name: String, reason: String?, now: Date, tellBackend told: Bool = true) {
        guard let client = clients[id] else { return }
        let folded = fold(name)
        guard let channel = channels[folded] else {
            reply(client, .errNoSuchChannel, [name, "No such channel"])
            return
        }
        guard channel.members[id] != nil else {
            reply(client, .errNotOnChannel, [channel.name, "You're not on that channel"])
            return
        }
        let message = IRCMessage(
            source: client.source, command: .verb("PART"), params: [channel.name] + (reason.map { [$0] } ?? []))
        broadcast(message, to: channel)
        for session in sessions(of: id) { removeMember(session, from: folded) }
        // A person leaves the room when their last client here does (another client of theirs may still be in it).
        if !client.isRemote,
            channels[folded]?.members.keys.contains(where: { clients[$0].map { isSamePerson($0, client) } ?? false }) != true
        {
            if told { tellBackend(.parted(channel: channel.name, nick: client.nick ?? "", reason: reason ?? ""), by: client) }
        }
    }

    mutating func removeMember(_ id: ClientID, from folded: String) {
        channels[folded]?.members.removeValue(forKey: id)
        clients[id]?.joinedChannels.remove(folded)
        if channels[folded]?.members.isEmpty == true { channels.removeValue(forKey: folded) }
    }

    mutating func handleTopic(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard let name = params.first else {
            reply(client, .errNeedMoreParams, ["TOPIC", "Not enough parameters"])
            return
        }
        let folded = fold(name)
        guard var channel = channels[folded] else {
            reply(client, .errNoSuchChannel, [name, "No such channel"])
            return
        }
        guard params.count > 1 else {
            if channel.secret, channel.members[id] == nil {
                reply(client, .errNotOnChannel, [channel.name, "You're not on that channel"])
            } else if channel.topic == nil {
                reply(client, .rplNoTopic, [channel.name, "No topic is set"])
            } else {
                sendTopic(channel, to: id)
            }
            return
        }
        guard channel.members[id] != nil else {
            reply(client, .errNotOnChannel, [channel.name, "You're not on that channel"])
            return
        }
        guard !channel.topicLocked || channel.isOperator(id) else {
            reply(client, .errChanOPrivsNeeded, [channel.name, "You're not channel operator"])
            return
        }
        setTopic(&channel, String(params[1].prefix(configuration.topicLength)), by: client, now: now)
        channels[folded] = channel
        tellBackend(.topic(channel: channel.name, nick: client.nick ?? "", topic: channel.topic ?? ""), by: client)
    }

    mutating func setTopic(_ channel: inout ChannelRecord, _ topic: String, by client: ClientRecord, now: Date) {
        channel.topic = topic.isEmpty ? nil : topic
        channel.topicSetBy = client.nick
        channel.topicSetAt = now
        broadcast(IRCMessage(tags: client.accountTags, source: client.source, command: .verb("TOPIC"), params: [channel.name, topic]), to: channel)
    }

    mutating func sendTopic(_ channel: ChannelRecord, to id: ClientID) {
        guard let client = clients[id], let topic = channel.topic else { return }
        reply(client, .rplTopic, [channel.name, topic])
        if let by = channel.topicSetBy, let at = channel.topicSetAt {
            reply(client, .rplTopicWhoTime, [channel.name, by, String(Int(at.timeIntervalSince1970))])
        }
    }

    mutating func handleNames(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        guard let first = params.first else {
            reply(client, .rplEndOfNames, ["*", "End of /NAMES list"])
            return
        }
        for name in first.split(separator: ",").map(String.init) {
            if let channel = channels[fold(name)], !channel.secret || channel.members[id] != nil {
                sendNames(channel, to: id)
            } else {
                reply(client, .rplEndOfNames, [name, "End of /NAMES list"])
            }
        }
    }

    mutating func sendNames(_ channel: ChannelRecord, to id: ClientID) {
        guard let client = clients[id] else { return }
        let multiPrefix = client.has("multi-prefix"), userhost = client.has("userhost-in-names")
        let entries = visibleMembers(of: channel).compactMap { member -> String? in
            guard let target = clients[member] else { return nil }
            let name = userhost ? target.mask : (target.nick ?? "*")
            return channel.prefix(of: member, multiPrefix: multiPrefix) + name
        }
        let symbol = channel.secret ? "@" : "="
        var line: [String] = []
        var length = 0
        for entry in entries {
            if length + entry.utf8.count + 1 > 400, !line.isEmpty {
                reply(client, .rplNamReply, [symbol, channel.name, line.joined(separator: " ")])
                line = []
                length = 0
            }
            line.append(entry)
            length += entry.utf8.count + 1
        }
        if !line.isEmpty { reply(client, .rplNamReply, [symbol, channel.name, line.joined(separator: " ")]) }
        reply(client, .rplEndOfNames, [channel.name, "End of /NAMES list"])
    }

    mutating func handleList(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        let wanted = params.first.map { Set($0.split(separator: ",").map { fold(String($0)) }) }
        reply(client, .rplListStart, ["Channel", "Users  Name"])
        for (folded, channel) in channels.sorted(by: { $0.key < $1.key }) {
            if let wanted, !wanted.contains(folded) { continue }
            if channel.secret, channel.members[id] == nil { continue }
            reply(client, .rplList, [channel.name, String(visibleMemberCount(of: channel)), channel.topic ?? ""])
        }
        reply(client, .rplListEnd, ["End of /LIST"])
    }

    mutating func handleKick(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard params.count >= 2 else {
            reply(client, .errNeedMoreParams, ["KICK", "Not enough parameters"])
            return
        }
        let folded = fold(params[0])
        guard let channel = channels[folded] else {
            reply(client, .errNoSuchChannel, [params[0], "No such channel"])
            return
        }
        guard channel.members[id] != nil else {
            reply(client, .errNotOnChannel, [channel.name, "You're not on that channel"])
            return
        }
        guard channel.isOperator(id) else {
            reply(client, .errChanOPrivsNeeded, [channel.name, "You're not channel operator"])
            return
        }
        let reason = params.count > 2 ? String(params[2].prefix(configuration.kickLength)) : (client.nick ?? "")
        for targetNick in params[1].split(separator: ",").map(String.init) {
            guard let target = nicks[fold(targetNick)], channels[folded]?.members[target] != nil,
                let targetClient = clients[target]
            else {
                reply(client, .errUserNotInChannel, [targetNick, channel.name, "They aren't on that channel"])
                continue
            }
            if let current = channels[folded] {
                broadcast(
                    IRCMessage(tags: client.accountTags, source: client.source, command: .verb("KICK"),
                        params: [current.name, targetClient.nick ?? targetNick, reason]), to: current)
            }
            for session in sessions(of: target) { removeMember(session, from: folded) }
        }
    }

    mutating func handleInvite(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        guard params.count >= 2 else {
            reply(client, .errNeedMoreParams, ["INVITE", "Not enough parameters"])
            return
        }
        guard let target = nicks[fold(params[0])], let targetClient = clients[target] else {
            reply(client, .errNoSuchNick, [params[0], "No such nick/channel"])
            return
        }
        let folded = fold(params[1])
        if let channel = channels[folded] {
            guard channel.members[id] != nil else {
                reply(client, .errNotOnChannel, [channel.name, "You're not on that channel"])
                return
            }
            guard channel.members[target] == nil else {
                reply(client, .errUserOnChannel, [targetClient.nick ?? params[0], channel.name, "is already on channel"])
                return
            }
            guard !channel.inviteOnly || channel.isOperator(id) else {
                reply(client, .errChanOPrivsNeeded, [channel.name, "You're not channel operator"])
                return
            }
            channels[folded]?.invited.insert(target)
            for member in channel.members.keys.sorted() where !samePerson(member, id) && !samePerson(member, target)
                && clients[member]?.has("invite-notify") == true
            {
                emit(member, IRCMessage(tags: client.accountTags, source: client.source, command: .verb("INVITE"), params: [targetClient.nick ?? "", channel.name]))
            }
        }
        reply(client, .rplInviting, [targetClient.nick ?? params[0], params[1]])
        let invitation = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("INVITE"), params: [targetClient.nick ?? params[0], params[1]])
        for session in sessions(of: target) { emit(session, invitation) }
        if let away = targetClient.away { reply(client, .rplAway, [targetClient.nick ?? "", away]) }
    }

    /// `nick!user@host` glob matching with `*` and `?`, case-folded.
    static func maskMatches(_ pattern: String, _ mask: String) -> Bool {
        let p = Array(IRCCasemapping.rfc1459.fold(pattern).utf8), m = Array(IRCCasemapping.rfc1459.fold(mask).utf8)
        var pi = 0, mi = 0, star = -1, mark = 0
        while mi < m.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == m[mi] {
                pi += 1
                mi += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = mi
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                mi = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// A channel as it starts: with the configured default flags.
    func newChannel(name: String, created: Date) -> ChannelRecord {
        var channel = ChannelRecord(name: name, created: created)
        let defaults = configuration.channelModes.defaults
        channel.noExternal = defaults.contains("n")
        channel.topicLocked = defaults.contains("t")
        channel.moderated = defaults.contains("m")
        channel.inviteOnly = defaults.contains("i")
        channel.secret = defaults.contains("s")
        return channel
    }
}
