/// What a client proved in a SASL exchange, handed to the backend's authenticator.
public enum SASLCredentials: Sendable, Hashable {
    /// SASL PLAIN: an account name and its password (the authorization identity, if any, is ignored).
    case plain(user: String, password: String)
    /// SASL EXTERNAL: the TLS client certificate the connection presented, as the lowercase hex SHA-256 of its DER
    /// encoding (the "CertFP" other servers show), and the account the client asked for, if it named one.
    case external(certificateFingerprint: String, authorizationIdentity: String?)
    /// SASL SCRAM-SHA-256: the client proved it knows the account's password (the server checked the proof against
    /// the backend's `scramCredentials`); the backend confirms the login (the account may have been disabled
    /// meanwhile) and says what it grants.
    case scram(account: String)

    /// The mechanisms this server offers, in the order advertised (`sasl=PLAIN,EXTERNAL`, RPL_SASLMECHS).
    public static let mechanisms = ["PLAIN", "EXTERNAL"]
}
