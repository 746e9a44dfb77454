import Foundation
import HyperLog
import IRCServer
import NIOCore
import NIOPosix
import SwarmEngine

/// `/msg PearServ …`: the gateway's control surface inside IRC.
public struct PearServ: Sendable {
    public static let name = "PearServ"
    /// Dials an address and hands the connection to the gateway.
    public typealias Connector = @Sendable (PeerAddress) async throws -> Void

    let gateway: Gateway
    let connector: Connector?
    /// The gateway's accounts, whose roles decide who may use which command; nil: no accounts (the one user may use
    /// them all).
    let logins: AccountLogins?
    /// The key the gateway's connections run under, when known.
    let transportKey: [UInt8]?
    /// Called after an `account` command changed what an account's login grants (its role, disabled, removed), so
    /// its connected clients hear at once (`AccountStandings`).
    let accountsChanged: (@Sendable () -> Void)?

    public init(
        gateway: Gateway, connector: Connector?, logins: AccountLogins? = nil, transportKey: [UInt8]? = nil,
        accountsChanged: (@Sendable () -> Void)? = nil
    ) {
        self.gateway = gateway
        self.connector = connector
        self.logins = logins
        self.transportKey = transportKey
        self.accountsChanged = accountsChanged
    }

    /// The role each command needs (docs/user-guide.md has the same table). Checked here, at every command, against
    /// the role the account has now (a role changed while someone is connected counts at once).
    static let requiredRole: [String: AccountRole] = [
        "peers": .user, "rooms": .user, "identity": .user, "ignore": .user, "unignore": .user, "ignores": .user,
        "invite": .user, "accept": .user, "passwd": .user, "help": .user,
        "connect": .admin, "account": .admin,
    ]

    /// A command from a client logged in to `account` (nil: not logged in).
    public func handle(_ text: String, account: String? = nil) async -> [String] {
        let words = text.split(separator: " ").map(String.init)
        let command = words.first?.lowercased() ?? "help"
        let role: AccountRole
        if let logins {
            guard let current = logins.role(of: account) else {
                return ["You are not logged in to an account of this gateway (was yours removed or disabled?): reconnect and log in."]
            }
            role = current
        } else {
            role = .admin
        }
        // Someone logged in whose person cannot be found (the database failing) is refused rather than taken for the
        // gateway's first person.
        if let account, let logins, logins.people.person(of: account) == nil {
            return ["The gateway could not read your account's identity; try again in a moment."]
        }
        if let needed = Self.requiredRole[command], needed == .admin, role != .admin {
            return ["\(command) needs the admin role; your account \(account ?? "") is a user here. Ask an admin of this gateway."]
        }
        return await run(words, command: command, role: role, account: account)
    }

    private func run(_ words: [String], command: String, role: AccountRole, account: String?) async -> [String] {
        switch command {
        case "peers":
            // Admins see every connection; users the peers of the rooms they are in, and only those rooms (another
            // person's private room here is not theirs to learn of).
            let mine = Set(await gateway.rooms(of: ownIdentity(account)).map(\.channel))
            let peers = await gateway.peers.compactMap { peer -> Gateway.PeerSummary? in
                if role == .admin { return peer }
                var shown = peer
                shown.rooms = peer.rooms.filter(mine.contains)
                return shown.rooms.isEmpty ? nil : shown
            }
            return peers.isEmpty
                ? ["No peers connected."]
                : ["\(peers.count) peer(s):"] + peers.map(Self.describe)
        case "rooms":
            let rooms = await gateway.rooms(of: ownIdentity(account))
            return rooms.isEmpty
                ? ["You are in no rooms."]
                : ["\(rooms.count) room(s):"]
                    + rooms.map { room in
                        let peers = room.peers == 0 ? "no peers online" : room.peers == 1 ? "1 peer" : "\(room.peers) peers"
                        return "\(room.channel)  \(peers)  \(room.members) other member(s) shown"
                    }
        case "connect":
            guard words.count == 2, let address = PeerAddress(parsing: words[1]) else {
                return ["Usage: connect HOST:PORT"]
            }
            guard let connector else { return ["Connecting to peers is not available in this mode."] }
            do {
                try await connector(address)
                return ["Connected to \(address)."]
            } catch {
                return ["Could not connect to \(address): \(Self.explain(error))."]
            }
        case "identity":
            // The identity is the person's (what others /msg by key); the transport key is what peers see a connection
            // come from (`pearircd identity` prints both).
            return ["Your public key: \(ZBase32.encode(ownIdentity(account)))"]
                + (transportKey.map { ["This gateway's transport key (its connections): \(ZBase32.encode($0))"] } ?? [])
        case "ignore", "unignore":
            let command = words[0].lowercased()
            guard words.count == 2 else { return ["Usage: \(command) NICK|KEY"] }
            return await ignore(words[1], command == "ignore", by: account)
        case "ignores":
            let ignored = gateway.ignores.all(of: ownIdentity(account))
            guard !ignored.isEmpty else { return ["You ignore nobody."] }
            var lines = ["You ignore \(ignored.count) person(s):"]
            for id in ignored { lines.append("  \(await gateway.nick(ofMember: id) ?? "(no nick seen)")  \(id)") }
            return lines
        case "invite":
            guard words.count == 2 else { return ["Usage: invite #CHANNEL"] }
            guard let invite = await gateway.invite(to: words[1], for: ownIdentity(account)) else {
                return ["\(words[1]) is not a private room you are in: a public room needs no invite (its name is enough); "
                    + "join a channel with a key (/join #team secret) to make a private one."]
            }
            return [
                "Invite to \(invite.channel) (whoever has it can read and write in the room; give it only to its members):",
                invite.description,
                "They join with /msg PearServ accept <invite>, then /join \(invite.channel); or /join \(invite.channel) <invite>.",
            ]
        case "accept":
            guard words.count == 2 else { return ["Usage: accept INVITE"] }
            let invite: RoomInvite
            do { invite = try RoomInvite(parsing: words[1]) } catch { return ["Not accepted: \(error)."] }
            let keys = PrivateRoomKeys(root: invite.root)
            await gateway.handle(.acceptInvite(room: invite.channel, keys: keys), as: ownIdentity(account))
            guard await gateway.names(invite.channel, keys) else {
                return ["Accepted, but \(invite.channel) is another room here now: part it, then /join \(invite.channel) \(invite)."]
            }
            return ["Accepted: /join \(invite.channel) to enter the private room."]
        case "passwd":
            return await changePassword(words, account: account)
        case "account":
            return await manageAccounts(Array(words.dropFirst()))
        case "help":
            return Self.help(for: role)
        default:
            return ["Unknown command \"\(words[0])\"."] + Self.help(for: role)
        }
    }

    /// One line per peer: identity, nick, rooms shared, how connected, round-trip time.
    static func describe(_ peer: Gateway.PeerSummary) -> String {
        let rtt = peer.path.roundTripTime.map { "rtt \(Self.milliseconds($0)) ms" } ?? "rtt unknown"
        let rooms = peer.rooms.isEmpty ? "no rooms shared" : "rooms shared: \(peer.rooms.joined(separator: " "))"
        // The person it proved it speaks for; a peer that proves none (another implementation's) by its connection key.
        let who = peer.people.first.map { "identity \(ZBase32.encode($0).prefix(12))…" } ?? "key \(ZBase32.encode(peer.remoteKey).prefix(12))…"
        return "\(who)  \(peer.nick ?? "(not seen in a room yet)")  \(rooms)  "
            + "\(peer.path.kind) (\(peer.label))  \(rtt)"
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// The identity of the person asking: their account's (each account is its own person), else the gateway's one person.
    func ownIdentity(_ account: String?) -> [UInt8] {
        account.flatMap { logins?.people.person(of: $0)?.keyPair.publicKey } ?? gateway.identity.keyPair.publicKey
    }

    /// `ignore` / `unignore`: a nick shown in one of our rooms, or a key (an identity, or a writer key for someone whose
    /// log proved none).
    func ignore(_ target: String, _ ignoring: Bool, by account: String? = nil) async -> [String] {
        let ids: [String]
        if let key = ZBase32.decode(target.lowercased()), key.count == 32 {
            ids = [ZBase32.encode(key)]
        } else {
            ids = await gateway.people(nicknamed: target)
        }
        guard let id = ids.first else { return ["No one called \(target) is in your rooms; give their key instead (/whois shows it)."] }
        guard id != ZBase32.encode(ownIdentity(account)) else { return ["That is you."] }
        guard ids.count == 1 else {
            return ["\(target) names \(ids.count) people here; say which by key:"] + ids.map { "  \($0)" }
        }
        let name = ids == [target.lowercased()] ? (await gateway.nick(ofMember: id) ?? id) : target
        do {
            let person = ownIdentity(account)
            let changed = try gateway.ignores.set(id, ignored: ignoring, by: person)
            if changed { gateway.ignoreChanged(id, by: person) }
            switch (ignoring, changed) {
            case (true, true): return ["You now ignore \(name): their lines are hidden here (\(id))."]
            case (true, false): return ["You already ignore \(name)."]
            case (false, true): return ["You no longer ignore \(name): their lines show again, history included."]
            case (false, false): return ["You were not ignoring \(name)."]
            }
        } catch {
            return ["Could not save the ignore list: \(error) (nothing changed)."]
        }
    }

    /// One command as its help shows it: how it is typed, what it does, and the role it needs.
    public struct Command: Sendable, Hashable {
        public let syntax: String
        public let summary: String
        public let role: AccountRole
    }

    /// Every command, in the order the help lists them (the IRC help and the web client's help page).
    public static let commands: [Command] = [
        .init(syntax: "peers", summary: "list connected gateways (of the rooms you are in): identity, nick, rooms shared, how connected, round-trip time", role: .user),
        .init(syntax: "rooms", summary: "list your rooms with how many peers share each", role: .user),
        .init(syntax: "identity", summary: "show your public key (and the gateway's transport key)", role: .user),
        .init(syntax: "ignore NICK|KEY", summary: "hide a person's lines and refuse their private messages here (local only); unignore undoes it; ignores lists them", role: .user),
        .init(syntax: "invite #CHANNEL", summary: "print an invite to a private room (one joined with a key: /join #team secret)", role: .user),
        .init(syntax: "accept INVITE", summary: "accept an invite; then /join its channel", role: .user),
        .init(syntax: "passwd OLD NEW", summary: "change your account's password", role: .user),
        .init(syntax: "help", summary: "this text", role: .user),
        .init(syntax: "connect HOST:PORT", summary: "connect to another gateway", role: .admin),
        .init(syntax: "account list", summary: "the gateway's accounts", role: .admin),
        .init(syntax: "account add NAME PASSWORD [admin]", summary: "add an account (a user unless admin is given)", role: .admin),
        .init(syntax: "account remove NAME", summary: "remove an account", role: .admin),
        .init(syntax: "account role NAME admin|user", summary: "change an account's role", role: .admin),
        .init(syntax: "account disable|enable NAME", summary: "stop or allow an account's logins", role: .admin),
        .init(
            syntax: "account registration [open|closed]", summary: "let people make their own accounts with REGISTER, or not",
            role: .admin),
    ]

    static func helpLines(_ role: AccountRole) -> [String] {
        let listed = commands.filter { $0.role == role }
        let width = listed.map(\.syntax.count).max() ?? 0
        return listed.map { "  " + $0.syntax.padding(toLength: width + 1, withPad: " ", startingAt: 0) + $0.summary }
    }

    static let userHelp = ["PearServ commands:"] + helpLines(.user)

    static let adminHelp = ["Admin commands:"] + helpLines(.admin)

    static let help = userHelp + adminHelp

    static func help(for role: AccountRole) -> [String] {
        role == .admin ? help : userHelp
    }

    /// A failed dial in words a person reads (not the I/O library's description).
    static func explain(_ error: any Error) -> String {
        switch error {
        case let refused as GatewayNode.PeerRefused:
            return refused.description
        case let error as SwarmConnectionError:
            switch error {
            case .closedDuringHandshake: return "the other side closed the connection during the handshake (is it a PearIRC gateway's peer port?)"
            case .unexpectedRemoteKey: return "the other side is not the gateway expected"
            case .secretStream, .protomux: return "the other side does not speak the peer protocol"
            case .idleTimeout: return "the other side stopped answering"
            case .writeQueueExceeded: return "the other side stopped reading"
            }
        case let error as NIOConnectionError:
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty { return "the host name could not be resolved" }
            if let first = error.connectionErrors.first?.error as? IOError { return Self.explain(errno: first.errnoCode) }
            return "no connection could be made"
        case let error as IOError:
            return Self.explain(errno: error.errnoCode)
        case is ChannelError:
            return "the connection timed out"
        default:
            return "\(error)"
        }
    }

    static func explain(errno code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "connection refused (no gateway listening on that port)"
        case ETIMEDOUT: "the connection timed out"
        case EHOSTUNREACH, ENETUNREACH: "that address cannot be reached from here"
        default: String(cString: strerror(code))
        }
    }
}
