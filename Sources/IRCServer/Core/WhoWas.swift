import Foundation

/// One user who left or changed nick, for WHOWAS.
struct WhowasEntry: Sendable {
    var nick: String
    var user: String
    var host: String
    var realName: String
    var account: String?
    var time: Date
}

/// WHOWAS: a bounded history (`configuration.whowasLength` entries, oldest dropped first) of nicks that quit or
/// were changed.
extension IRCServerState {
    mutating func rememberWhowas(_ client: ClientRecord, now: Date) {
        guard configuration.whowasLength > 0, let nick = client.nick, client.isRegistered || client.isRemote else { return }
        whowas.append(WhowasEntry(
            nick: nick, user: client.user ?? "*", host: client.visibleHost, realName: client.realName ?? "",
            account: client.account, time: now))
        if whowas.count > configuration.whowasLength { whowas.removeFirst(whowas.count - configuration.whowasLength) }
    }

    mutating func handleWhowas(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        guard let query = params.first, !query.isEmpty else {
            reply(client, .errNoNicknameGiven, ["No nickname given"])
            return
        }
        // A count of zero or less (or none) means every entry.
        let count = params.count > 1 ? (Int(params[1]) ?? 0) : 0
        for nick in query.split(separator: ",").prefix(configuration.maximumTargets).map(String.init) {
            let isMask = nick.contains("*") || nick.contains("?")
            var matches = whowas.reversed().filter { entry in
                isMask ? Self.maskMatches(nick, entry.nick) : fold(entry.nick) == fold(nick)
            }
            if count > 0 { matches = Array(matches.prefix(count)) }
            if matches.isEmpty { reply(client, .errWasNoSuchNick, [nick, "There was no such nickname"]) }
            for entry in matches {
                reply(client, .rplWhowasUser, [entry.nick, entry.user, entry.host, "*", entry.realName])
                if let account = entry.account {
                    reply(client, .rplWhoisAccount, [entry.nick, account, "was logged in as"])
                }
                reply(client, .rplWhoisServer, [entry.nick, configuration.serverName, IRCServerTime.readable(entry.time)])
            }
            reply(client, .rplEndOfWhowas, [nick, "End of WHOWAS"])
        }
    }
}
