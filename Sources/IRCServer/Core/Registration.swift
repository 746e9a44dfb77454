import Foundation

extension IRCServerState {
    /// Capabilities offered to `client`, with their CAP LS 302 values. `sts` (IRCv3 STS) is listed only when a
    /// policy is configured: the upgrade port on a plain connection, the persistence duration on a TLS one.
    func offeredCapabilities(for client: ClientRecord) -> [(name: String, value: String?)] {
        var offered = requestableCapabilities
        if let sts = configuration.stsPolicy, !withdrawnCapabilities.contains("sts") {
            offered.append(("sts", client.secure ? "duration=\(sts.duration)" : "port=\(sts.port)"))
        }
        return offered.sorted { $0.name < $1.name }
    }

    /// Capabilities a client may CAP REQ (`sts` is informational only), less any withdrawn while running.
    var requestableCapabilities: [(name: String, value: String?)] {
        supportedCapabilities.filter { !withdrawnCapabilities.contains($0.name) }
    }

    /// Every requestable capability this server implements, with its CAP LS 302 value.
    var supportedCapabilities: [(name: String, value: String?)] {
        [
            ("account-notify", nil), ("account-tag", nil), ("away-notify", nil), ("batch", nil),
            ("cap-notify", nil), ("chghost", nil), ("draft/chathistory", nil), ("echo-message", nil),
            ("extended-join", nil), ("invite-notify", nil), ("labeled-response", nil), ("message-tags", nil), ("msgid", nil),
            ("multi-prefix", nil), ("sasl", saslMechanisms.joined(separator: ",")), ("server-time", nil), ("setname", nil),
            ("standard-replies", nil), ("userhost-in-names", nil),
        ] + (offeredAccountRegistration.map { [(Self.accountRegistrationCapability, $0.capabilityValue)] } ?? [])
    }

    mutating func handleCap(_ params: [String], from id: ClientID, now: Date) {
        guard var client = clients[id] else { return }
        guard let subcommand = params.first?.uppercased() else {
            reply(client, .errNeedMoreParams, ["CAP", "Not enough parameters"])
            return
        }
        let target = client.nick ?? "*"
        func capReply(_ parts: [String]) {
            emit(id, IRCMessage(source: serverSource, command: .verb("CAP"), params: [target] + parts))
        }
        switch subcommand {
        case "LS":
            client.registration.capabilityNegotiationStarted()
            if let version = params.dropFirst().first.flatMap(Int.init), version >= 302 {
                client.capVersion = version
                client.caps.insert("cap-notify")  // implied by 302
            }
            clients[id] = client
            let entries = offeredCapabilities(for: client).map { cap in
                if let value = cap.value, client.capVersion >= 302 { return "\(cap.name)=\(value)" }
                return cap.name
            }
            // Long lists are split with `*` continuation lines (CAP 302).
            var line: [String] = []
            var length = 0
            for entry in entries {
                if length + entry.count + 1 > 400, !line.isEmpty, client.capVersion >= 302 {
                    capReply(["LS", "*", line.joined(separator: " ")])
                    line = []
                    length = 0
                }
                line.append(entry)
                length += entry.count + 1
            }
            capReply(["LS", line.joined(separator: " ")])
        case "LIST":
            capReply(["LIST", client.caps.sorted().joined(separator: " ")])
        case "REQ":
            client.registration.capabilityNegotiationStarted()
            let requested = (params.dropFirst().first ?? "").split(separator: " ").map(String.init)
            let offered = Set(requestableCapabilities.map(\.name))
            let valid = requested.allSatisfy { request in
                let name = request.hasPrefix("-") ? String(request.dropFirst()) : request
                return offered.contains(name)
            }
            guard valid, !requested.isEmpty else {
                clients[id] = client
                capReply(["NAK", params.dropFirst().first ?? ""])
                return
            }
            for request in requested {
                if request.hasPrefix("-") { client.caps.remove(String(request.dropFirst())) } else { client.caps.insert(request) }
            }
            clients[id] = client
            capReply(["ACK", requested.joined(separator: " ")])
        case "END":
            client.registration.capabilityNegotiationEnded()
            clients[id] = client
            tryCompleteRegistration(id, now: now)
        default:
            reply(client, .errInvalidCapCmd, [params[0], "Invalid CAP command"])
        }
    }

    mutating func handleNick(_ params: [String], from id: ClientID, now: Date) {
        guard var client = clients[id] else { return }
        guard let wanted = params.first, !wanted.isEmpty else {
            reply(client, .errNoNicknameGiven, ["No nickname given"])
            return
        }
        guard validation.isValidNick(wanted) else {
            reply(client, .errErroneusNickname, [wanted, "Erroneous nickname"])
            return
        }
        let folded = fold(wanted)
        var reserve = true
        if let holder = nicks[folded], !samePerson(holder, id) {
            guard mayWaitForNick(id, heldBy: holder) else {
                reply(client, .errNicknameInUse, [wanted, "Nickname is already in use"])
                return
            }
            // Held by a person this connection may turn out to be (its login is not known yet): decided at the end
            // of registration.
            reserve = false
        }
        if client.nick == wanted { return }
        let old = client.nick
        if let old, nicks[fold(old)] == person(of: id) { nicks.removeValue(forKey: fold(old)) }
        if reserve { nicks[folded] = person(of: id) }
        let oldSource = client.source
        client.nick = wanted
        clients[id] = client
        if client.isRegistered, let old {
            let message = IRCMessage(tags: client.accountTags, source: oldSource, command: .verb("NICK"), params: [wanted])
            emit(id, message)
            for other in othersToTell(about: id) { emit(other, message) }
            tellBackend(.nickChanged(old: old, new: wanted), by: client)
            var previous = client
            previous.nick = old
            rememberWhowas(previous, now: now)
            if fold(old) != folded {
                notifyMonitors(nick: old, mask: nil)
                notifyMonitors(nick: wanted, mask: client.mask)
            }
        } else {
            tryCompleteRegistration(id, now: now)
        }
    }

    mutating func handleUser(_ params: [String], from id: ClientID, now: Date) {
        guard var client = clients[id] else { return }
        if client.isRegistered {
            reply(client, .errAlreadyRegistered, ["You may not reregister"])
            return
        }
        guard params.count >= 4, !params[0].isEmpty, !params[3].isEmpty else {
            reply(client, .errNeedMoreParams, ["USER", "Not enough parameters"])
            return
        }
        // The user name is shown in hostmasks: keep it short and free of separators.
        let cleaned = params[0].filter { !"@!* ".contains($0) }
        client.user = "~" + String(cleaned.prefix(10))
        // What tells this client from the account's others (laptop, phone) for the lines it missed: its own user name,
        // kept when the person's is copied over it.
        client.device = String(cleaned.prefix(32))
        client.realName = params[3]
        clients[id] = client
        tryCompleteRegistration(id, now: now)
    }

    mutating func handleAuthenticate(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id], let argument = params.first else { return }
        // SASL 3.2: a client logged in may authenticate again (`accountSwitching` decides whether as another account).
        if !client.sasl.isUnderWay, argument.uppercased() == SASLMechanism.plain.rawValue, !mayReceivePassword(client) {
            reply(client, .errSASLFail, ["SASL authentication failed: PLAIN sends your password in the clear; use TLS, or SCRAM-SHA-256"])
            return
        }
        // In place: the record is not copied for the exchange's sake.
        let fingerprint = client.certificateFingerprint
        guard let step = clients[id]?.sasl.receive(argument, certificateFingerprint: fingerprint, offersSCRAM: configuration.offersSCRAM)
        else { return }
        switch step {
        case .aborted:
            reply(client, .errSASLAborted, ["SASL authentication aborted"])
        case .unknownMechanism:
            reply(client, .rplSASLMechs, [saslMechanisms.joined(separator: ","), "are available SASL mechanisms"])
            reply(client, .errSASLFail, ["SASL authentication failed"])
        case .noCertificate:
            reply(client, .errSASLFail, ["SASL authentication failed: no TLS client certificate was presented"])
        case .askForPayload:
            emit(id, IRCMessage(command: .verb("AUTHENTICATE"), params: ["+"]))
        case .awaitingMore:
            break
        case .verify(let credentials):
            let account = switch credentials {
            case .plain(let user, _): user
            case .external(let fingerprint, let identity): identity ?? fingerprint
            case .scram(let account): account
            }
            guard admitLogin(id, account: account, now: now) else { return }
            actions.append(.authenticate(id, credentials))
        case .lookUpSCRAM(let account):
            guard admitLogin(id, account: account, now: now) else { return }
            actions.append(.lookUpSCRAM(id, account: account))
        case .sendSCRAM(let message):
            emitAuthenticate(id, message)
        case .loggedIn(let account):
            // The proof was right; the backend confirms the login (and says what it grants).
            actions.append(.authenticate(id, .scram(account: account)))
        case .failed(.tooLong):
            reply(client, .errSASLFail, ["SASL authentication failed: message too long"])
        case .failed(.invalidBase64):
            reply(client, .errSASLFail, ["SASL authentication failed: the payload is not valid base64"])
        case .failed(.malformed):
            // A SCRAM proof that did not match counts as a failed login (the exchange had begun one).
            if clients[id]?.saslAttempt != nil { finishAuthentication(id, login: nil, now: now) } else {
                reply(client, .errSASLFail, ["SASL authentication failed"])
            }
        }
    }

    /// Whether a login for `account` from this client's address may be tried now (`LoginThrottle`); if not, the
    /// exchange ends with 904 saying how long to wait, and the backend is not asked.
    mutating func admitLogin(_ id: ClientID, account: String, now: Date) -> Bool {
        guard let client = clients[id] else { return false }
        if let wait = loginThrottle.wait(address: client.host, account: account, now: now) {
            clients[id]?.sasl = .idle
            reply(client, .errSASLFail, ["SASL authentication failed: too many failed attempts; try again in \(Int(wait.rounded(.up))) s"])
            return false
        }
        clients[id]?.saslAttempt = (account, now)
        return true
    }

    /// The mechanisms offered (`sasl=…`, RPL_SASLMECHS).
    var saslMechanisms: [String] {
        SASLCredentials.mechanisms + (configuration.offersSCRAM ? [SASLMechanism.scramSHA256.rawValue] : [])
    }

    /// A server SASL message, base64 in 400-byte chunks (and a `+` after a chunk of exactly 400).
    mutating func emitAuthenticate(_ id: ClientID, _ message: [UInt8]) {
        let encoded = Data(message).base64EncodedString()
        var rest = Substring(encoded)
        while rest.count >= SASLExchange.chunkLength {
            emit(id, IRCMessage(command: .verb("AUTHENTICATE"), params: [String(rest.prefix(SASLExchange.chunkLength))]))
            rest = rest.dropFirst(SASLExchange.chunkLength)
        }
        emit(id, IRCMessage(command: .verb("AUTHENTICATE"), params: [rest.isEmpty ? "+" : String(rest)]))
    }

    /// The backend looked up a SCRAM account (`lookUpSCRAM`): the server-first message goes out. The shell draws the
    /// nonce and the decoy (random) for it. `account`: whose credentials these are; an answer for another account than
    /// the exchange under way names (a late one, for an exchange the client abandoned after the deferred-answer
    /// timeout) is dropped, so no proof made with one account's password can log in to another.
    public mutating func scramCredentialsFound(
        _ id: ClientID, account: String, credentials: SCRAMCredentials?, decoy: SCRAMCredentials, serverNonce: String
    ) -> [IRCServerAction] {
        answeringDeferred(id) { state in
            guard let message = state.clients[id]?.sasl.scramCredentialsFound(
                for: account, credentials, decoy: decoy, serverNonce: serverNonce)
            else { return }
            state.emitAuthenticate(id, message)
        }
        return drain()
    }

    mutating func tryCompleteRegistration(_ id: ClientID, now: Date) {
        guard let client = clients[id], client.registration.completesWithNickAndUser, client.nick != nil,
            client.user != nil, !client.isRegistered
        else { return }
        if client.sasl.isUnderWay {
            // SASL 3.1: registration completed mid-exchange aborts it; the client registers unauthenticated.
            clients[id]?.sasl = .idle
            reply(client, .errSASLAborted, ["SASL authentication aborted"])
        }
        guard loginAllowsRegistration(id, now: now) else { return }
        if let person = personToJoin(id, account: clients[id]?.account) {
            attach(id, to: person, now: now)
            return
        }
        if let wanted = clients[id]?.nick, let holder = nicks[fold(wanted)], holder != id {
            // The nick was left to be decided now (`mayWaitForNick`), and this connection is not its holder's.
            clients[id]?.nick = nil
            if let waiting = clients[id] { reply(waiting, .errNicknameInUse, [wanted, "Nickname is already in use"]) }
            return
        }
        if let wanted = clients[id]?.nick { nicks[fold(wanted)] = id }
        clients[id]?.registration = .registered
        guard let registered = clients[id], let nick = registered.nick else { return }
        if configuration.sharedAccountSessions, let account = registered.account { personByAccount[fold(account)] = id }
        notePeakUsers()
        notifyMonitors(nick: nick, mask: registered.mask)
        welcome(id)
        tellBackend(.registered(nick: nick), by: registered)
        deliverPrivateMessagesWhileAway(to: id)
    }

    /// RPL_WELCOME to the end of the MOTD, and operator status that came with the login.
    mutating func welcome(_ id: ClientID) {
        guard let registered = clients[id], let nick = registered.nick else { return }
        reply(registered, .rplWelcome, ["Welcome to the \(configuration.networkName) Network, \(registered.mask)"])
        reply(registered, .rplYourHost, ["Your host is \(configuration.serverName), running version \(configuration.version)"])
        reply(registered, .rplCreated, ["This server was created \(createdText)"])
        reply(registered, .rplMyInfo, [configuration.serverName, configuration.version, "iow", "beiklmnostv", "beklov"])
        sendISupport(to: id)
        sendLUsers(to: id)
        sendMOTD(to: id)
        if registered.operatorFromLogin {
            reply(registered, .rplYoureOper, ["You are now an IRC operator (as an admin of this gateway)"])
            emit(id, IRCMessage(tags: registered.accountTags, source: registered.source, command: .verb("MODE"), params: [nick, "+ow"]))
        }
    }

    var isupport: ISupport {
        var support = ISupport()
        support.casemapping(casemapping)
        support.chanTypes("#&")
        let refused = configuration.channelModes.refused
        func offered(_ modes: String) -> String { String(modes.filter { !refused.contains($0) }) }
        support.chanModes(list: offered("b"), alwaysParam: offered("k"), setParam: offered("l"), flags: offered("imnst"))
        support.prefix(modes: "ov", symbols: "@+")
        support.nickLen(configuration.nickLength)
        support.channelLen(configuration.channelLength)
        support.topicLen(configuration.topicLength)
        support.kickLen(configuration.kickLength)
        support.network(configuration.networkName)
        support.chanLimit(prefixes: "#&", limit: configuration.maximumChannelsPerClient)
        support.targMax([("PRIVMSG", configuration.maximumTargets), ("NOTICE", configuration.maximumTargets), ("JOIN", nil)])
        support.utf8Only()
        support.whox()
        support.monitor(limit: configuration.monitorLimit)
        support.modes(4)
        try? support.set("AWAYLEN", String(configuration.awayLength))
        try? support.set("LINELEN", "512")
        try? support.set("CHATHISTORY", String(historyReplyLimit))
        try? support.set("MSGREFTYPES", "msgid,timestamp")
        try? support.set("STATUSMSG", "@+")
        return support
    }

    mutating func sendISupport(to id: ClientID) {
        guard let client = clients[id], let nick = client.nick,
            let messages = try? isupport.messages(server: configuration.serverName, nick: nick)
        else { return }
        for message in messages { emit(id, message) }
    }

    mutating func sendLUsers(to id: ClientID) {
        guard let client = clients[id] else { return }
        let counts = userCounts()
        let invisible = counts.invisible, local = counts.local
        reply(client, .rplLUserClient, ["There are \(counts.global - invisible) users and \(invisible) invisible on 1 servers"])
        reply(client, .rplLUserOp, [String(counts.operators), "operator(s) online"])
        reply(client, .rplLUserUnknown, [String(counts.unregistered), "unknown connection(s)"])
        reply(client, .rplLUserChannels, [String(channels.count), "channels formed"])
        reply(client, .rplLUserMe, ["I have \(local) clients and 0 servers"])
        reply(client, .rplLocalUsers, [
            String(local), String(peakLocalUsers), "Current local users \(local), max \(peakLocalUsers)",
        ])
        reply(client, .rplGlobalUsers, [
            String(counts.global), String(peakGlobalUsers), "Current global users \(counts.global), max \(peakGlobalUsers)",
        ])
    }

    /// Keeps the highest local and global user counts seen (RPL_LOCALUSERS / RPL_GLOBALUSERS).
    mutating func notePeakUsers() {
        let counts = userCounts()
        peakLocalUsers = max(peakLocalUsers, counts.local)
        peakGlobalUsers = max(peakGlobalUsers, counts.global)
    }

    /// The LUSERS figures in one pass, without copying any client (this runs for every registration).
    func userCounts() -> (global: Int, local: Int, invisible: Int, operators: Int, unregistered: Int) {
        var counts = (global: 0, local: 0, invisible: 0, operators: 0, unregistered: 0)
        for client in clients.values {
            if client.isRegistered || client.isRemote, client.attachedTo == nil {
                counts.global += 1
                if client.invisible { counts.invisible += 1 }
                if client.isOperator { counts.operators += 1 }
            }
            if client.isRegistered, !client.isRemote, client.attachedTo == nil { counts.local += 1 }
            if !client.isRegistered, !client.isRemote { counts.unregistered += 1 }
        }
        return counts
    }

    mutating func sendMOTD(to id: ClientID) {
        guard let client = clients[id] else { return }
        guard !configuration.motd.isEmpty else {
            reply(client, .errNoMotd, ["MOTD File is missing"])
            return
        }
        reply(client, .rplMotdStart, ["- \(configuration.serverName) Message of the day - "])
        for line in configuration.motd { reply(client, .rplMotd, ["- \(line)"]) }
        reply(client, .rplEndOfMotd, ["End of /MOTD command."])
    }

    /// Removes a client: parts every channel with a QUIT to its neighbours, frees the nick.
    mutating func quit(_ id: ClientID, reason: String, now: Date, notifySelf: Bool) {
        guard let client = clients[id] else { return }
        // Another connection of the same person stays: nobody sees a QUIT.
        if detachSession(id, now: now) { return }
        noteDeparture(of: client, now: now)
        if let account = client.account, personByAccount[fold(account)] == id { personByAccount.removeValue(forKey: fold(account)) }
        rememberWhowas(client, now: now)
        forgetMonitoring(of: id)
        if client.isRegistered || client.isRemote {
            let message = IRCMessage(tags: client.accountTags, source: client.source, command: .verb("QUIT"), params: [reason])
            for other in neighbours(of: id) { emit(other, message) }
        }
        for name in client.joinedChannels {
            channels[name]?.members.removeValue(forKey: id)
            if channels[name]?.members.isEmpty == true { channels.removeValue(forKey: name) }
        }
        if let nick = client.nick, nicks[fold(nick)] == id {
            nicks.removeValue(forKey: fold(nick))
            if client.isRegistered, !client.isRemote { tellBackend(.quit(nick: nick, reason: reason), by: client) }
        }
        if let remoteID = client.remoteID { remoteUsers.removeValue(forKey: remoteID) }
        clients.removeValue(forKey: id)
        if let nick = client.nick, client.isRegistered || client.isRemote, nicks[fold(nick)] == nil {
            notifyMonitors(nick: nick, mask: nil)
        }
    }
}
