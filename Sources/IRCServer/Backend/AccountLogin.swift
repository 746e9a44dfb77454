/// A login the backend granted (`ChatBackend.authenticate`): the account, as the backend spells it, and whether it
/// makes the client an IRC operator (the gateway's admins are).
/// What became of a login attempt (`ChatBackend.verdict`).
public enum AuthenticationVerdict: Sendable, Hashable {
    case granted(AccountLogin)
    /// Wrong credentials (or no such account, or one that may not log in): counts as a failed login.
    case refused
    /// The credentials could not be checked now (too many logins at once, a database that cannot be read): the
    /// client is told why and may try again; it does not count as a failed login, so a flood of others' attempts
    /// cannot lock anyone out.
    case unavailable(String)
}

public struct AccountLogin: Sendable, Hashable {
    public var account: String
    public var isOperator: Bool

    public init(account: String, isOperator: Bool = false) {
        self.account = account
        self.isOperator = isOperator
    }
}

/// IRCv3 account registration (`draft/account-registration`, `REGISTER`) as this server offers it; nil in
/// `IRCServerConfiguration.accountRegistration` offers none.
public struct AccountRegistrationPolicy: Sendable, Hashable {
    /// Whether REGISTER works before the connection is registered (`before-connect`).
    public var beforeConnect: Bool
    /// Whether the account may be named other than the client's nick (`custom-account-name`).
    public var customAccountName: Bool
    /// Whether REGISTER must give an email address (`email-required`). Its form is checked; this server sends no mail.
    public var requiresEmail: Bool

    public init(beforeConnect: Bool = true, customAccountName: Bool = true, requiresEmail: Bool = false) {
        self.beforeConnect = beforeConnect
        self.customAccountName = customAccountName
        self.requiresEmail = requiresEmail
    }

    /// The capability's value (`draft/account-registration=before-connect,custom-account-name`).
    var capabilityValue: String? {
        let flags = (beforeConnect ? ["before-connect"] : []) + (customAccountName ? ["custom-account-name"] : [])
            + (requiresEmail ? ["email-required"] : [])
        return flags.isEmpty ? nil : flags.joined(separator: ",")
    }

    /// Whether `text` has the form of an email address (one `@` with something on each side, a dot in the domain).
    static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
    }
}

/// What became of a REGISTER (`ChatBackend.register`).
public enum AccountRegistrationOutcome: Sendable, Hashable {
    /// Made, and the client is logged in to it.
    case registered(AccountLogin)
    /// `ACCOUNT_EXISTS`.
    case accountExists
    /// `BAD_ACCOUNT_NAME`, with why in words.
    case badAccountName(String)
    /// `UNACCEPTABLE_PASSWORD`, with why in words.
    case unacceptablePassword(String)
    /// `TEMPORARILY_UNAVAILABLE` (registration closed, the database failing), with why in words.
    case unavailable(String)
}
