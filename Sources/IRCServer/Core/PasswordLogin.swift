import Foundation

/// Logging in without SASL (`PASS account:password`, for clients that cannot do SASL), and the gate that keeps a
/// client out until it has logged in where the server requires it (`IRCServerConfiguration.requiresLogin`: the
/// gateway once it has accounts).
///
/// PASS only records what it was given; when NICK, USER (and CAP END) would complete registration, a client not
/// logged in by SASL has its PASS checked by the backend, as SASL PLAIN (`authenticate`), and registration waits for
/// the verdict. A wrong password, or none where one is required, ends the connection with 464 and ERROR.
extension IRCServerState {
    mutating func handlePass(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        if client.isRegistered {
            reply(client, .errAlreadyRegistered, ["You may not reregister"])
            return
        }
        guard let password = params.first, !password.isEmpty else {
            reply(client, .errNeedMoreParams, ["PASS", "Not enough parameters"])
            return
        }
        // Servers without accounts ignore PASS, as before (no server password is configured).
        guard configuration.passwordLogin || client.loginRequired else { return }
        clients[id]?.password = password
    }

    /// The account and password a PASS names: `account:password`, or (as bouncers take it) the password of the account
    /// named by USER.
    static func passwordLogin(_ pass: String, user: String?) -> (account: String, password: String)? {
        if let colon = pass.firstIndex(of: ":"), colon != pass.startIndex {
            return (String(pass[..<colon]), String(pass[pass.index(after: colon)...]))
        }
        guard let user = user.map({ $0.hasPrefix("~") ? String($0.dropFirst()) : $0 }), !user.isEmpty else { return nil }
        return (user, pass)
    }

    /// Whether a password may be sent on this client's connection: in the clear only over TLS or loopback, where the
    /// server asks for that (`passwordsNeedSecureConnection`).
    func mayReceivePassword(_ client: ClientRecord) -> Bool {
        !configuration.passwordsNeedSecureConnection || client.secure || LoopbackAddress.contains(client.host)
    }

    /// Called where registration would complete: true when it may (logged in, or no login needed); false when it waits
    /// for a PASS verdict or the client was refused.
    mutating func loginAllowsRegistration(_ id: ClientID, now: Date) -> Bool {
        guard let client = clients[id] else { return false }
        if client.passwordLoginUnderWay { return false }
        guard client.account == nil else {
            // Logged in by SASL: a PASS given as well is not needed (nor kept).
            clients[id]?.password = nil
            return true
        }
        if let pass = client.password {
            clients[id]?.password = nil
            guard mayReceivePassword(client) else {
                refuseLogin(id, "PASS sends your password in the clear: connect with TLS, or log in with SASL SCRAM-SHA-256", now: now)
                return false
            }
            guard let login = Self.passwordLogin(pass, user: client.user) else {
                refuseLogin(id, "PASS takes account:password", now: now)
                return false
            }
            if let wait = loginThrottle.wait(address: client.host, account: login.account, now: now) {
                refuseLogin(id, "Too many failed logins; try again in \(Int(wait.rounded(.up))) s", now: now)
                return false
            }
            clients[id]?.saslAttempt = (login.account, now)
            clients[id]?.passwordLoginUnderWay = true
            actions.append(.authenticate(id, .plain(user: login.account, password: login.password)))
            return false
        }
        guard !client.loginRequired else {
            refuseLogin(
                id, "This server needs you to log in: SASL (\(saslMechanisms.joined(separator: ", "))) or PASS account:password",
                now: now)
            return false
        }
        return true
    }

    /// The verdict on a PASS login: registration goes on, or the connection ends.
    mutating func finishPasswordLogin(_ id: ClientID, login: AccountLogin?, now: Date) {
        guard let login else {
            refuseLogin(id, "Password incorrect", now: now)
            return
        }
        logIn(id, login)
        tryCompleteRegistration(id, now: now)
    }

    /// 464 with why, then ERROR: the client may not register.
    mutating func refuseLogin(_ id: ClientID, _ why: String, now: Date) {
        guard let client = clients[id] else { return }
        reply(client, .errPasswdMismatch, [why])
        error(id, "Closing Link: \(client.host) (Login required)")
        quit(id, reason: "Login required", now: now, notifySelf: false)
    }
}
