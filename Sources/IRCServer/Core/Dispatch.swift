import Foundation

extension IRCServerState {
    /// Commands allowed before registration completes.
    static let preRegistration: Set<String> = ["CAP", "NICK", "USER", "PASS", "AUTHENTICATE", "REGISTER", "PING", "PONG", "QUIT"]

    mutating func dispatch(_ message: IRCMessage, from id: ClientID, now: Date) {
        guard let client = clients[id], case .verb(let verb) = message.command else { return }
        let command = verb.uppercased()
        if !client.isRegistered, !Self.preRegistration.contains(command) {
            reply(client, .errNotRegistered, ["You have not registered"])
            return
        }
        let params = message.params
        switch command {
        case "CAP": handleCap(params, from: id, now: now)
        case "NICK": handleNick(params, from: id, now: now)
        case "USER": handleUser(params, from: id, now: now)
        case "PASS": handlePass(params, from: id)
        case "REGISTER": handleRegister(params, from: id, now: now)
        case "AUTHENTICATE": handleAuthenticate(params, from: id, now: now)
        case "PING":
            guard let token = params.first else {
                reply(client, .errNeedMoreParams, ["PING", "Not enough parameters"])
                return
            }
            emit(id, IRCMessage(source: serverSource, command: .verb("PONG"), params: [configuration.serverName, token]))
        case "PONG": break  // Any traffic resets the idle timer; nothing else to do.
        case "QUIT":
            let reason = params.first.map { "Quit: \($0)" } ?? "Quit"
            error(id, "Closing Link: \(client.host) (\(reason))")
            quit(id, reason: reason, now: now, notifySelf: false)
        case "JOIN": handleJoin(params, from: id, now: now)
        case "PART": handlePart(params, from: id, now: now)
        case "PRIVMSG", "NOTICE", "TAGMSG": handleMessage(command, message, from: id, now: now)
        case "TOPIC": handleTopic(params, from: id, now: now)
        case "NAMES": handleNames(params, from: id)
        case "LIST": handleList(params, from: id)
        case "WHO": handleWho(params, from: id)
        case "WHOIS": handleWhois(params, from: id)
        case "MODE": handleMode(params, from: id, now: now)
        case "KICK": handleKick(params, from: id, now: now)
        case "INVITE": handleInvite(params, from: id)
        case "AWAY": handleAway(params, from: id)
        case "SETNAME": handleSetName(params, from: id)
        case "MOTD": sendMOTD(to: id)
        case "LUSERS": sendLUsers(to: id)
        case "VERSION":
            reply(client, .rplVersion, [configuration.version, configuration.serverName, "PearIRC gateway"])
            sendISupport(to: id)
        case "TIME":
            reply(client, .rplTime, [configuration.serverName, IRCServerTime.readable(now)])
        case "ISON":
            let online = params.flatMap { $0.split(separator: " ").map(String.init) }
                .filter { nicks[fold($0)] != nil }
            reply(client, .rplIsOn, [online.joined(separator: " ")])
        case "USERHOST":
            let entries = params.prefix(5).compactMap { nick -> String? in
                guard let target = nicks[fold(nick)].flatMap({ clients[$0] }) else { return nil }
                return "\(target.nick ?? nick)\(target.isOperator ? "*" : "")=\(target.away == nil ? "+" : "-")\(target.user ?? "")@\(target.visibleHost)"
            }
            reply(client, .rplUserHost, [entries.joined(separator: " ")])
        case "CHATHISTORY": handleChatHistory(params, from: id, now: now)
        case "WHOWAS": handleWhowas(params, from: id)
        case "MONITOR": handleMonitor(params, from: id)
        case "OPER": handleOper(params, from: id)
        case "KILL": handleKill(params, from: id, now: now)
        case "WALLOPS": handleWallops(params, from: id)
        case "INFO": sendInfo(to: id)
        default:
            reply(client, .errUnknownCommand, [verb, "Unknown command"])
        }
    }

    static func serverTime(_ date: Date) -> String {
        IRCServerTime.format(date)
    }
}
