import Foundation

/// IRCv3 account registration (`draft/account-registration`): `REGISTER <account> <email> <password>` asks the
/// backend to make an account, offered only when `IRCServerConfiguration.accountRegistration` is set (the gateway:
/// when an admin allows self-registration). A success logs the client in to the new account.
extension IRCServerState {
    static let accountRegistrationCapability = "draft/account-registration"

    /// The registration policy offered right now, if any.
    var offeredAccountRegistration: AccountRegistrationPolicy? {
        guard let policy = configuration.accountRegistration, configuration.accountRegistrationOpen?() ?? true else { return nil }
        return policy
    }

    mutating func handleRegister(_ params: [String], from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard let policy = configuration.accountRegistration else {
            reply(client, .errUnknownCommand, ["REGISTER", "Unknown command"])
            return
        }
        guard configuration.accountRegistrationOpen?() ?? true else {
            let account = params.first ?? "*"
            emit(id, IRCMessage(
                source: serverSource, command: .verb("FAIL"),
                params: ["REGISTER", "TEMPORARILY_UNAVAILABLE", account, "Registration is closed here: an admin adds accounts"]))
            return
        }
        guard params.count >= 3, !params[0].isEmpty, !params[2].isEmpty else {
            reply(client, .errNeedMoreParams, ["REGISTER", "Not enough parameters"])
            return
        }
        func fail(_ code: String, _ account: String, _ text: String) {
            emit(id, IRCMessage(source: serverSource, command: .verb("FAIL"), params: ["REGISTER", code, account, text]))
        }
        var account = params[0]
        guard client.isRegistered || policy.beforeConnect else {
            return fail("COMPLETE_CONNECTION_REQUIRED", account, "Finish connecting (NICK and USER) before registering")
        }
        guard client.account == nil else {
            return fail("ALREADY_AUTHENTICATED", account, "You are logged in already")
        }
        if account == "*" {
            guard let nick = client.nick else { return fail("BAD_ACCOUNT_NAME", account, "Choose a NICK first, or name the account") }
            account = nick
        }
        guard validation.isValidNick(account) else {
            return fail("BAD_ACCOUNT_NAME", account, "An account name follows the rules of a nick")
        }
        if !policy.customAccountName, fold(account) != fold(client.nick ?? "") {
            return fail("ACCOUNT_NAME_MUST_BE_NICK", account, "The account must be named after your nick")
        }
        if policy.requiresEmail, !AccountRegistrationPolicy.looksLikeEmail(params[1]) {
            return fail("INVALID_EMAIL", account, "Give an email address to register")
        }
        guard mayReceivePassword(client) else {
            return fail("UNACCEPTABLE_PASSWORD", account, "REGISTER sends your password in the clear: connect with TLS")
        }
        guard !client.sasl.isUnderWay, !client.passwordLoginUnderWay else {
            return fail("TEMPORARILY_UNAVAILABLE", account, "A login is under way")
        }
        // Each registration counts against the address as a failed login would: a few are free, a flood waits.
        let key = LoginThrottle.registrationKey(client.host)
        if let wait = loginThrottle.wait(for: [key], now: now) {
            return fail("TEMPORARILY_UNAVAILABLE", account, "Too many registrations from your address; try again in \(Int(wait.rounded(.up))) s")
        }
        loginThrottle.failed([key], at: now)
        let email = params[1] == "*" ? nil : params[1]
        actions.append(.register(id, account: account, email: email, password: params[2]))
    }

    /// The backend's answer to a REGISTER.
    public mutating func registrationFinished(_ id: ClientID, account: String, outcome: AccountRegistrationOutcome) -> [IRCServerAction] {
        answeringDeferred(id) { state in state.finishRegistration(id, account: account, outcome: outcome) }
        return drain()
    }

    mutating func finishRegistration(_ id: ClientID, account: String, outcome: AccountRegistrationOutcome) {
        guard clients[id] != nil else { return }
        func send(_ params: [String], _ verb: String = "FAIL") {
            emit(id, IRCMessage(source: serverSource, command: .verb(verb), params: params))
        }
        switch outcome {
        case .registered(let login):
            send(["SUCCESS", login.account, "Account created"], "REGISTER")
            // Another login may have finished meanwhile: the client keeps the account it has.
            if clients[id]?.account == nil { logIn(id, login) }
        case .accountExists:
            send(["REGISTER", "ACCOUNT_EXISTS", account, "That account exists already"])
        case .badAccountName(let why):
            send(["REGISTER", "BAD_ACCOUNT_NAME", account, why])
        case .unacceptablePassword(let why):
            send(["REGISTER", "UNACCEPTABLE_PASSWORD", account, why])
        case .unavailable(let why):
            send(["REGISTER", "TEMPORARILY_UNAVAILABLE", account, why])
        }
    }
}
