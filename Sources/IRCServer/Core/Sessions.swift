import Foundation

/// Several connections of one account as one person (`IRCServerConfiguration.sharedAccountSessions`): what a bouncer
/// gives, without one.
///
/// The person's first connection stands for them: it holds the nick (`nicks`) and shows in NAMES, WHO and member
/// counts. Every later connection of the account is *attached* to it (`ClientRecord.attachedTo`): welcomed under the
/// person's nick, made a member of each of the person's channels with the same prefix modes, and from then on a
/// member like any other, so every line and event a channel sees reaches each connection adapted to that
/// connection's own capabilities, and a line one connection sends reaches the others through the channel. What is
/// the person's (nick, user and real name, away, user modes, channels) is kept alike on all of them; what is the
/// connection's (capabilities, labels, late answers, flood, SendQ, MONITOR) stays its own, and replies go to the
/// connection that asked. Joining or parting from one joins or parts them all; others see one person join, part, change
/// nick, and quit only when the last connection goes. When the connection that stands for the person goes, the next
/// one takes its place.
extension IRCServerState {
    /// The connection standing for `id`'s person (`id` itself unless it is attached).
    func person(of id: ClientID) -> ClientID { clients[id]?.attachedTo ?? id }

    /// Every connection of `id`'s person, the one standing for them first.
    func sessions(of id: ClientID) -> [ClientID] {
        let person = person(of: id)
        guard let attached = attachedSessions[person] else { return [person] }
        return [person] + attached
    }

    /// Whether `id` is a connection that does not show in member lists (another stands for its person).
    func isAttached(_ id: ClientID) -> Bool { clients[id]?.attachedTo != nil }

    /// Whether two clients are the same person (one connection, or two of one account).
    func samePerson(_ a: ClientID, _ b: ClientID) -> Bool { person(of: a) == person(of: b) }

    /// The members of `channel` that show in its lists (NAMES, WHO, LIST's count, `+l`): one per person.
    func visibleMembers(of channel: ChannelRecord) -> [ClientID] {
        guard !attachedSessions.isEmpty else { return channel.members.keys.sorted() }
        return channel.members.keys.filter { !isAttached($0) }.sorted()
    }

    /// How many members `channel` shows (LIST, `+l`): one per person, counted without sorting anyone.
    func visibleMemberCount(of channel: ChannelRecord) -> Int {
        guard !attachedSessions.isEmpty else { return channel.members.count }
        return channel.members.keys.count { !isAttached($0) }
    }

    /// Those who hear about something `id`'s person did to themselves (NICK, AWAY, SETNAME, ACCOUNT): everyone
    /// sharing a channel with the person, and the person's other connections; not `id`.
    func othersToTell(about id: ClientID) -> [ClientID] {
        var result = neighbours(of: id)
        result.formUnion(sessions(of: id))
        result.remove(id)
        return result.sorted()
    }

    /// The person already here whom a connection logging in to `account` joins, if connections share accounts.
    func personToJoin(_ id: ClientID, account: String?) -> ClientID? {
        guard configuration.sharedAccountSessions, let account, let person = personByAccount[fold(account)],
            person != id, clients[person]?.isRegistered == true
        else { return nil }
        return person
    }

    /// Whether registration may hand `id` a nick that `holder` holds now: its account's person's nick is the nick
    /// it will have once attached, so the clash is decided when registration completes (`tryCompleteRegistration`).
    func mayWaitForNick(_ id: ClientID, heldBy holder: ClientID) -> Bool {
        guard configuration.sharedAccountSessions, let client = clients[id], !client.isRegistered,
            let other = clients[holder], other.isRegistered, !other.isRemote, let theirs = other.account
        else { return false }
        // Logged in already: only to the holder's account; not yet: the login may still make it so.
        return client.account.map { fold($0) == fold(theirs) } ?? true
    }

    /// Registration of `id` completes by joining the person of its account, `personID`: it is welcomed under their
    /// nick and given each of their channels (JOIN, topic, NAMES, and the lines it missed when it cannot ask for them).
    mutating func attach(_ id: ClientID, to personID: ClientID, now: Date) {
        guard var session = clients[id], let person = clients[personID], person.nick != nil else { return }
        if let tentative = session.nick, nicks[fold(tentative)] == id { nicks.removeValue(forKey: fold(tentative)) }
        // What this connection's login grants now is what the account grants: the person's earlier connections
        // follow it (an admin demoted since they logged in stops being an operator, one promoted becomes one).
        let grant = session.account.map { AccountLogin(account: $0, isOperator: session.operatorFromLogin) }
        session.attachedTo = personID
        session.registration = .registered
        session.displayHost = person.visibleHost
        clients[id] = session
        attachedSessions[personID, default: []].append(id)
        if let grant {
            for other in sessions(of: personID) where other != id { applyOperatorStatus(other, grant) }
        }
        copyPerson(from: personID, to: id)
        notePeakUsers()
        welcome(id)
        if let away = clients[id]?.away, let attached = clients[id] {
            reply(attached, .rplNowAway, ["You have been marked as being away (\(away))"])
        }
        for folded in (clients[personID]?.joinedChannels ?? []).sorted() {
            guard var channel = channels[folded] else { continue }
            channel.members[id] = channel.members[personID] ?? []
            channels[folded] = channel
            clients[id]?.joinedChannels.insert(folded)
            guard let joined = clients[id] else { continue }
            let params = joined.has("extended-join") ? [channel.name, joined.account ?? "*", joined.realName ?? ""] : [channel.name]
            emit(id, IRCMessage(tags: joined.accountTags, source: joined.source, command: .verb("JOIN"), params: params))
            if channel.topic != nil { sendTopic(channel, to: id) }
            sendNames(channel, to: id)
            replayHistory(of: channel, to: id, since: lastDeparture(of: joined))
        }
    }

    /// The person's fields (nick, user, real name, away, modes, account) of `source` on `target`.
    mutating func copyPerson(from source: ClientID, to target: ClientID) {
        guard let person = clients[source], source != target, var session = clients[target] else { return }
        session.nick = person.nick
        session.user = person.user
        session.realName = person.realName
        session.away = person.away
        session.account = person.account
        session.isOperator = person.isOperator
        session.operatorFromLogin = person.operatorFromLogin
        session.invisible = person.invisible
        session.wallops = person.wallops
        clients[target] = session
    }

    /// After a command of `id`: its person's fields as it left them, on the person's other connections.
    mutating func sharePersonChanges(from id: ClientID) {
        guard clients[id]?.isRegistered == true else { return }
        let all = sessions(of: id)
        guard all.count > 1 else { return }
        for other in all where other != id { copyPerson(from: id, to: other) }
    }

    /// `id` goes while another connection of its person stays: it leaves its channels without a word to anyone
    /// (the person is still there), and when it stood for the person, the next connection does. Returns false when
    /// it is the person's last connection (the person quits).
    mutating func detachSession(_ id: ClientID, now: Date) -> Bool {
        guard let client = clients[id], client.isRegistered, !client.isRemote else { return false }
        let all = sessions(of: id)
        guard all.count > 1 else { return false }
        noteDeparture(of: client, now: now)
        forgetMonitoring(of: id)
        for folded in client.joinedChannels {
            channels[folded]?.members.removeValue(forKey: id)
            if channels[folded]?.members.isEmpty == true { channels.removeValue(forKey: folded) }
        }
        let person = person(of: id)
        if person == id {
            let successor = all[1]
            let rest = Array(all.dropFirst(2))
            attachedSessions.removeValue(forKey: id)
            if !rest.isEmpty { attachedSessions[successor] = rest }
            clients[successor]?.attachedTo = nil
            for other in rest { clients[other]?.attachedTo = successor }
            if let nick = client.nick, nicks[fold(nick)] == id { nicks[fold(nick)] = successor }
            if let account = client.account, personByAccount[fold(account)] == id { personByAccount[fold(account)] = successor }
            for (folded, channel) in channels where channel.invited.contains(id) {
                channels[folded]?.invited.remove(id)
                channels[folded]?.invited.insert(successor)
            }
        } else {
            attachedSessions[person]?.removeAll { $0 == id }
            if attachedSessions[person]?.isEmpty == true { attachedSessions.removeValue(forKey: person) }
        }
        clients.removeValue(forKey: id)
        return true
    }

    /// Remembers when a connection of an account went (`accountLastSeen`), for the replay of lines it missed: for the
    /// account, and for the device (its USER name).
    mutating func noteDeparture(of client: ClientRecord, now: Date) {
        guard configuration.sharedAccountSessions, client.isRegistered, !client.isRemote, let account = client.account else { return }
        for key in [fold(account), Self.departureKey(fold(account), device: client.device)] {
            if accountLastSeen.count >= Self.maximumRememberedDepartures, accountLastSeen[key] == nil,
                let oldest = accountLastSeen.min(by: { $0.value < $1.value })?.key
            {
                accountLastSeen.removeValue(forKey: oldest)
            }
            accountLastSeen[key] = now
        }
    }

    /// Since when a connection that attaches missed lines: its device's last departure, else its account's.
    func lastDeparture(of client: ClientRecord) -> Date? {
        guard let account = client.account.map(fold) else { return nil }
        return accountLastSeen[Self.departureKey(account, device: client.device)] ?? accountLastSeen[account]
    }

    static func departureKey(_ foldedAccount: String, device: String?) -> String {
        foldedAccount + "\u{0}" + (device ?? "")
    }

    /// A channel's lines for a client that cannot ask for history itself (no `draft/chathistory`): the newest
    /// `historyOnJoin` of them, or of those since `since` (a connection attaching gets what was said since a
    /// connection of its account last went).
    mutating func replayHistory(of channel: ChannelRecord, to id: ClientID, since: Date?) {
        guard configuration.historyOnJoin > 0, let client = clients[id], !client.isRemote, !client.has("draft/chathistory")
        else { return }
        let query: HistoryQuery
        if let since {
            // From the end back to the departure: the newest lines of the window, oldest first.
            query = .between(
                channel: channel.name, from: .timestamp(.distantFuture), to: .timestamp(since), limit: configuration.historyOnJoin)
        } else {
            query = .latest(channel: channel.name, limit: configuration.historyOnJoin)
        }
        actions.append(.fetchHistory(id, query, batchType: "chathistory", target: channel.name, onJoin: true))
    }
}
