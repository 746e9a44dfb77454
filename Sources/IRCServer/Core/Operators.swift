import Foundation

/// OPER, KILL and WALLOPS for local operators.
///
/// Credentials are `IRCServerConfiguration.operators` (name → password hash). Checking a hash (Argon2id) is slow,
/// so the state only asks: it emits `verifyOperator` and the shell answers with `operatorVerified`, running the
/// configuration's `operatorPasswordVerifier` off the server's actor.
extension IRCServerState {
    mutating func handleOper(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        guard params.count >= 2 else {
            reply(client, .errNeedMoreParams, ["OPER", "Not enough parameters"])
            return
        }
        guard let hash = configuration.operators[params[0]], configuration.operatorPasswordVerifier != nil else {
            // The same answer for an unknown name and a wrong password: names are not disclosed.
            reply(client, .errPasswdMismatch, ["Password incorrect"])
            return
        }
        actions.append(.verifyOperator(id, name: params[0], password: params[1], hash: hash))
    }

    /// The shell's verdict on an OPER password.
    public mutating func operatorVerified(_ id: ClientID, name: String, success: Bool) -> [IRCServerAction] {
        answeringDeferred(id) { state in state.finishOper(id, name: name, success: success) }
        return drain()
    }

    mutating func finishOper(_ id: ClientID, name: String, success: Bool) {
        guard var client = clients[id] else { return }
        guard success else {
            reply(client, .errPasswdMismatch, ["Password incorrect"])
            return
        }
        client.isOperator = true
        client.wallops = true
        clients[id] = client
        reply(client, .rplYoureOper, ["You are now an IRC operator"])
        let mode = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("MODE"), params: [client.nick ?? "*", "+ow"])
        for session in sessions(of: id) { emit(session, mode) }
        sharePersonChanges(from: id)
    }

    mutating func handleKill(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard client.isOperator else {
            reply(client, .errNoPrivileges, ["Permission Denied- You're not an IRC operator"])
            return
        }
        guard let nick = params.first, !nick.isEmpty else {
            reply(client, .errNeedMoreParams, ["KILL", "Not enough parameters"])
            return
        }
        guard let targetID = nicks[fold(nick)], let target = clients[targetID] else {
            if fold(nick) == fold(configuration.serverName) {
                reply(client, .errCantKillServer, ["You cannot kill a server!"])
            } else {
                reply(client, .errNoSuchNick, [nick, "No such nick/channel"])
            }
            return
        }
        let reason = params.count > 1 && !params[1].isEmpty ? params[1] : "No reason given"
        let quitReason = "Killed (\(client.nick ?? "*") (\(reason)))"
        // Every connection of the person goes; the last one's quit is the one others see.
        for session in sessions(of: targetID).reversed() {
            if !target.isRemote {
                emit(session, IRCMessage(tags: client.accountTags, source: client.source, command: .verb("KILL"), params: [target.nick ?? nick, reason]))
                error(session, "Closing Link: \(configuration.serverName) (\(quitReason))")
            }
            quit(session, reason: quitReason, now: now, notifySelf: false)
        }
    }

    mutating func handleWallops(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        guard client.isOperator else {
            reply(client, .errNoPrivileges, ["Permission Denied- You're not an IRC operator"])
            return
        }
        guard let text = params.first, !text.isEmpty else {
            reply(client, .errNeedMoreParams, ["WALLOPS", "Not enough parameters"])
            return
        }
        let message = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("WALLOPS"), params: [text])
        for other in clients.values.sorted(by: { $0.id < $1.id }) where other.wallops && other.isRegistered {
            emit(other.id, message)
        }
    }

    mutating func sendInfo(to id: ClientID) {
        guard let client = clients[id] else { return }
        for line in [
            "\(configuration.version): PearIRC, an IRC front end to peer-to-peer rooms on the Holepunch network.",
            "Every channel is a swarm topic; every line is a signed append to its author's log.",
            "Server started \(createdText).",
        ] {
            reply(client, .rplInfo, [line])
        }
        reply(client, .rplEndOfInfo, ["End of /INFO list"])
    }
}
