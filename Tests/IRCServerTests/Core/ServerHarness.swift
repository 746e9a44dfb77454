import Foundation
import IRCServer

/// Drives an `IRCServerState` with wire lines and records what each client would receive, as wire lines.
struct ServerHarness {
    var state: IRCServerState
    var now = Date(timeIntervalSince1970: 1_764_000_000)
    var received: [ClientID: [String]] = [:]
    var closed = Set<ClientID>()
    var backendRequests: [BackendRequest] = []
    /// The account each of `backendRequests` was made by (nil: not logged in).
    var backendAccounts: [String?] = []
    var otherActions: [IRCServerAction] = []
    private var nextID: UInt64 = 1

    init(configure: (inout IRCServerConfiguration) -> Void = { _ in }) {
        var configuration = IRCServerConfiguration()
        configuration.serverName = "irc.test"
        configuration.historyOnJoin = 0
        configure(&configuration)
        state = IRCServerState(configuration: configuration, created: now, messageIDPrefix: "m")
    }

    mutating func record(_ actions: [IRCServerAction]) {
        for action in actions {
            switch action {
            case .send(let id, let message):
                let bytes = (try? IRCMessageEncoder.encode(message)) ?? Array("<unencodable>\r\n".utf8)
                received[id, default: []].append(String(decoding: bytes.dropLast(2), as: UTF8.self))
            case .sendToEach(let ids, let message):
                let bytes = (try? IRCMessageEncoder.encode(message)) ?? Array("<unencodable>\r\n".utf8)
                for id in ids { received[id, default: []].append(String(decoding: bytes.dropLast(2), as: UTF8.self)) }
            case .close(let id): closed.insert(id)
            case .backend(let request, let account):
                backendRequests.append(request)
                backendAccounts.append(account)
            default: otherActions.append(action)
            }
        }
    }

    /// A connection arriving from `host`, through the admission policy: its id when admitted.
    mutating func arrive(host: String) -> ClientID? {
        let (decision, actions) = state.admission(forHost: host, now: now)
        record(actions)
        guard case .admit = decision else { return nil }
        return connect(host: host)
    }

    mutating func connect(host: String = "127.0.0.1", secure: Bool = false, loginRequired: Bool = false) -> ClientID {
        let id = ClientID(nextID)
        nextID += 1
        record(state.connected(id, host: host, secure: secure, certificateFingerprint: nil, loginRequired: loginRequired, now: now))
        return id
    }

    /// The actions the backend is to answer, taken out of `otherActions`.
    mutating func takeBackendCalls() -> [IRCServerAction] {
        defer { otherActions = [] }
        return otherActions
    }

    /// Sends one line from a client; returns what that client received in answer (and clears its inbox).
    @discardableResult
    mutating func send(_ id: ClientID, _ line: String) -> [String] {
        received[id] = []
        do {
            record(state.received(try IRCMessageParser.parse(line), from: id, now: now))
        } catch {
            record(state.malformed(id, error: error, label: IRCTag.value(of: "label", inRawLine: Array(line.utf8))))
        }
        defer { received[id] = [] }
        return received[id] ?? []
    }

    /// Connects and registers `nick`, optionally requesting capabilities first.
    mutating func register(_ nick: String, caps: [String] = []) -> ClientID {
        let id = connect()
        if !caps.isEmpty {
            send(id, "CAP LS 302")
            send(id, "CAP REQ :\(caps.joined(separator: " "))")
        }
        send(id, "NICK \(nick)")
        send(id, "USER \(nick) 0 * :\(nick) real")
        if !caps.isEmpty { send(id, "CAP END") }
        received[id] = []
        return id
    }

    /// Connects, logs in to `account` with SASL PLAIN (answering for the backend), and registers `nick`.
    mutating func registerLoggedIn(_ nick: String, account: String, user: String? = nil, caps: [String] = []) -> ClientID {
        let id = connect()
        send(id, "CAP LS 302")
        send(id, "CAP REQ :" + (["sasl"] + caps).joined(separator: " "))
        send(id, "AUTHENTICATE PLAIN")
        send(id, "AUTHENTICATE \(Data("\0\(account)\0pw".utf8).base64EncodedString())")
        record(state.authenticationFinished(id, account: account))
        send(id, "CAP END")
        send(id, "NICK \(nick)")
        send(id, "USER \(user ?? nick) 0 * :\(nick)")
        received[id] = []
        return id
    }

    /// Answers pending OPER checks with `verify(password, hash)`; returns what `id` received.
    @discardableResult
    mutating func answerOperatorChecks(for id: ClientID, verify: (String, String) -> Bool) -> [String] {
        let pending = otherActions
        otherActions = []
        received[id] = []
        for action in pending {
            guard case .verifyOperator(let client, let name, let password, let hash) = action else {
                otherActions.append(action)
                continue
            }
            record(state.operatorVerified(client, name: name, success: verify(password, hash)))
        }
        return inbox(id)
    }

    /// Advances the clock.
    mutating func advance(_ seconds: Double) {
        now = now.addingTimeInterval(seconds)
    }

    @discardableResult
    mutating func inbox(_ id: ClientID) -> [String] {
        defer { received[id] = [] }
        return received[id] ?? []
    }
}

extension Array where Element == String {
    /// Lines whose command (after any tags and source) is `command`.
    func with(_ command: String) -> [String] {
        filter { line in
            let words = line.split(separator: " ")
            var index = 0
            if words.first?.hasPrefix("@") == true { index += 1 }
            if index < words.count, words[index].hasPrefix(":") { index += 1 }
            return index < words.count && words[index] == command
        }
    }
}

extension IRCServerState {
    /// The backend's verdict by account name (a plain login, granting no operator status).
    mutating func authenticationFinished(_ id: ClientID, account: String?, now: Date = Date()) -> [IRCServerAction] {
        authenticationFinished(id, login: account.map { AccountLogin(account: $0) }, now: now)
    }
}
