import Foundation

extension IRCServerState {
    mutating func handleMode(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard let target = params.first else {
            reply(client, .errNeedMoreParams, ["MODE", "Not enough parameters"])
            return
        }
        if validation.isValidChannel(target) {
            channelMode(target, changes: Array(params.dropFirst()), from: id, now: now)
        } else {
            userMode(target, changes: params.count > 1 ? params[1] : nil, from: id)
        }
    }

    mutating func userMode(_ target: String, changes: String?, from id: ClientID) {
        guard var client = clients[id] else { return }
        guard nicks[fold(target)] != nil else {
            reply(client, .errNoSuchNick, [target, "No such nick/channel"])
            return
        }
        guard fold(target) == fold(client.nick ?? "") else {
            reply(client, .errUsersDontMatch, ["Cant change mode for other users"])
            return
        }
        guard let changes else {
            reply(client, .rplUModeIs, [
                "+" + (client.invisible ? "i" : "") + (client.isOperator ? "o" : "") + (client.wallops ? "w" : ""),
            ])
            return
        }
        var adding = true
        var applied = ""
        var unknown = false
        for flag in changes {
            switch flag {
            case "+": adding = true
            case "-": adding = false
            case "i":
                if client.invisible != adding {
                    client.invisible = adding
                    applied += (adding ? "+" : "-") + "i"
                }
            case "o":
                // Operator status is granted by OPER only; it can be dropped.
                if !adding, client.isOperator {
                    client.isOperator = false
                    applied += "-o"
                }
            case "w":
                if client.wallops != adding {
                    client.wallops = adding
                    applied += (adding ? "+" : "-") + "w"
                }
            default: unknown = true
            }
        }
        clients[id] = client
        if unknown { reply(client, .errUModeUnknownFlag, ["Unknown MODE flag"]) }
        if !applied.isEmpty {
            // The person's modes: every connection of theirs is told (`Sessions.swift`).
            let message = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("MODE"), params: [client.nick ?? "", applied])
            for session in sessions(of: id) { emit(session, message) }
        }
    }

    mutating func channelMode(_ name: String, changes: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        let folded = fold(name)
        guard var channel = channels[folded] else {
            reply(client, .errNoSuchChannel, [name, "No such channel"])
            return
        }
        guard let modeText = changes.first else {
            reply(client, .rplChannelModeIs, channel.modeString.split(separator: " ").map(String.init).reduce([channel.name]) { $0 + [$1] })
            reply(client, .rplCreationTime, [channel.name, String(Int(channel.created.timeIntervalSince1970))])
            return
        }
        var arguments = Array(changes.dropFirst())
        // A bare ban-list query needs no privileges.
        if modeText == "b" || modeText == "+b", arguments.isEmpty {
            for ban in channel.bans { reply(client, .rplBanList, [channel.name, ban]) }
            reply(client, .rplEndOfBanList, [channel.name, "End of channel ban list"])
            return
        }
        guard channel.isOperator(id) else {
            reply(client, .errChanOPrivsNeeded, [channel.name, "You're not channel operator"])
            return
        }
        var adding = true
        var appliedFlags = ""
        var appliedArguments: [String] = []
        var lastSign: Character?
        func record(_ flag: Character, _ argument: String? = nil) {
            let sign: Character = adding ? "+" : "-"
            if lastSign != sign {
                appliedFlags.append(sign)
                lastSign = sign
            }
            appliedFlags.append(flag)
            if let argument { appliedArguments.append(argument) }
        }
        for flag in modeText {
            if adding, configuration.channelModes.refused.contains(flag) {
                // Not enforceable here: said so, never half-applied. (Clearing one left from elsewhere is fine.)
                if "bkl".contains(flag), !arguments.isEmpty { arguments.removeFirst() }
                reply(client, .errUnknownMode, [String(flag), configuration.channelModes.refusalReason])
                continue
            }
            switch flag {
            case "+": adding = true
            case "-": adding = false
            case "o", "v":
                guard !arguments.isEmpty else { continue }
                let nick = arguments.removeFirst()
                guard let target = nicks[fold(nick)] else {
                    reply(client, .errNoSuchNick, [nick, "No such nick/channel"])
                    continue
                }
                guard channel.members[target] != nil else {
                    reply(client, .errUserNotInChannel, [nick, channel.name, "They aren't on that channel"])
                    continue
                }
                // The person's every connection holds the same modes (`Sessions.swift`).
                for session in sessions(of: target) {
                    if adding { channel.members[session]?.insert(flag) } else { channel.members[session]?.remove(flag) }
                }
                record(flag, clients[target]?.nick ?? nick)
            case "k":
                if adding {
                    guard !arguments.isEmpty else { continue }
                    let key = arguments.removeFirst()
                    guard !key.isEmpty, !key.contains(" ") else {
                        reply(client, .errInvalidKey, [channel.name, "Key is not well-formed"])
                        continue
                    }
                    channel.key = key
                    record("k", key)
                } else if channel.key != nil {
                    if !arguments.isEmpty { arguments.removeFirst() }
                    channel.key = nil
                    record("k", "*")
                }
            case "l":
                if adding {
                    guard !arguments.isEmpty else { continue }
                    guard let limit = Int(arguments.removeFirst()), limit > 0 else { continue }
                    channel.limit = limit
                    record("l", String(limit))
                } else if channel.limit != nil {
                    channel.limit = nil
                    record("l")
                }
            case "b":
                guard !arguments.isEmpty else { continue }
                let mask = Self.normaliseMask(arguments.removeFirst())
                if adding {
                    guard !channel.bans.contains(mask) else { continue }
                    channel.bans.append(mask)
                } else {
                    guard let index = channel.bans.firstIndex(of: mask) else { continue }
                    channel.bans.remove(at: index)
                }
                record("b", mask)
            case "i", "m", "n", "s", "t":
                let current: Bool
                switch flag {
                case "i": current = channel.inviteOnly
                case "m": current = channel.moderated
                case "n": current = channel.noExternal
                case "s": current = channel.secret
                default: current = channel.topicLocked
                }
                guard current != adding else { continue }
                switch flag {
                case "i": channel.inviteOnly = adding
                case "m": channel.moderated = adding
                case "n": channel.noExternal = adding
                case "s": channel.secret = adding
                default: channel.topicLocked = adding
                }
                record(flag)
            default:
                reply(client, .errUnknownMode, [String(flag), "is unknown mode char to me"])
            }
        }
        channels[folded] = channel
        guard !appliedFlags.isEmpty else { return }
        broadcast(
            IRCMessage(tags: client.accountTags, source: client.source, command: .verb("MODE"), params: [channel.name, appliedFlags] + appliedArguments),
            to: channel)
    }

    /// `nick` → `nick!*@*`, `user@host` → `*!user@host`: the forms servers store bans in.
    static func normaliseMask(_ mask: String) -> String {
        if mask.contains("!") { return mask.contains("@") ? mask : mask + "@*" }
        if mask.contains("@") { return "*!" + mask }
        return mask + "!*@*"
    }
}
