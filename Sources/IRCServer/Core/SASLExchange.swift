import Foundation

/// The SASL mechanisms this server offers; `SASLCredentials.mechanisms` advertises the same names.
enum SASLMechanism: String, Sendable, CaseIterable {
    case plain = "PLAIN"
    case external = "EXTERNAL"
}

/// Where one client's SASL exchange stands (IRCv3 SASL 3.1, `AUTHENTICATE`). A value: `IRCServerState` feeds it each
/// AUTHENTICATE argument and answers the `Step` it returns with numerics, or hands the credentials to the backend.
/// Whether the client is logged in is not part of it: the account outlives the exchange that proved it.
enum SASLExchange: Sendable, Hashable {
    /// Nothing under way: the next argument names a mechanism (or is `*`).
    case idle
    /// The client chose `mechanism` and was sent `AUTHENTICATE +`; the base64 payload arrives in 400-byte chunks,
    /// `received` so far.
    case awaitingPayload(mechanism: SASLMechanism, received: String)
    /// The whole payload went to the backend; its verdict (`authenticationFinished`) is awaited.
    case verifying(mechanism: SASLMechanism)

    /// What one AUTHENTICATE argument leads to.
    enum Step: Sendable, Hashable {
        /// `*`: whatever was under way is over (906).
        case aborted
        /// A mechanism this server does not offer (908, then 904); nothing starts.
        case unknownMechanism
        /// EXTERNAL from a connection that presented no TLS client certificate (904); nothing starts.
        case noCertificate
        /// The mechanism is accepted: ask for the payload (`AUTHENTICATE +`).
        case askForPayload
        /// A full 400-byte chunk: more follows.
        case awaitingMore
        /// The payload is complete: the backend checks these credentials.
        case verify(SASLCredentials)
        /// The exchange failed (904) and is over.
        case failed(Failure)
    }

    enum Failure: Sendable, Hashable {
        /// More than `maximumPayloadLength` of base64 arrived.
        case tooLong
        case invalidBase64
        /// The decoded payload is not what the mechanism expects (PLAIN: authzid NUL authcid NUL password).
        case malformed
    }

    /// A chunk this long says more follows (SASL 3.1); a shorter one, or `+`, ends the payload.
    static let chunkLength = 400
    /// Bound on a whole payload, in base64 characters: PLAIN and EXTERNAL need far less.
    static let maximumPayloadLength = 4096

    var isUnderWay: Bool { self != .idle }

    /// One AUTHENTICATE argument from the client. `certificateFingerprint`: the TLS client certificate the
    /// connection presented, if any (what EXTERNAL proves).
    mutating func receive(_ argument: String, certificateFingerprint: String?) -> Step {
        if argument == "*" {
            self = .idle
            return .aborted
        }
        switch self {
        case .idle:
            return start(argument.uppercased(), certificateFingerprint: certificateFingerprint)
        case .awaitingPayload(let mechanism, let received):
            return collect(argument, into: received, for: mechanism, certificateFingerprint: certificateFingerprint)
        case .verifying(let mechanism):
            // The client's lines are held while the verdict is awaited, so this comes only once the backend let the
            // deferred-answer timeout pass: the argument starts a payload for the same mechanism afresh.
            return collect(argument, into: "", for: mechanism, certificateFingerprint: certificateFingerprint)
        }
    }

    private mutating func start(_ name: String, certificateFingerprint: String?) -> Step {
        guard let mechanism = SASLMechanism(rawValue: name) else { return .unknownMechanism }
        if mechanism == .external, certificateFingerprint == nil { return .noCertificate }
        self = .awaitingPayload(mechanism: mechanism, received: "")
        return .askForPayload
    }

    private mutating func collect(
        _ argument: String, into received: String, for mechanism: SASLMechanism, certificateFingerprint: String?
    ) -> Step {
        var encoded = received
        if argument != "+" { encoded += argument }
        guard encoded.count <= Self.maximumPayloadLength else {
            self = .idle
            return .failed(.tooLong)
        }
        if argument.count == Self.chunkLength {
            self = .awaitingPayload(mechanism: mechanism, received: encoded)
            return .awaitingMore
        }
        guard let payload = encoded.isEmpty ? [] : Data(base64Encoded: encoded).map({ [UInt8]($0) }) else {
            self = .idle
            return .failed(.invalidBase64)
        }
        switch mechanism {
        case .external:
            // Checked when the exchange started, and a connection's certificate never goes away; but should it be
            // missing, there is nothing to prove.
            guard let certificateFingerprint else {
                self = .idle
                return .noCertificate
            }
            self = .verifying(mechanism: mechanism)
            // An empty response, or the authorization identity (the account asked for).
            let identity = payload.isEmpty ? nil : String(decoding: payload, as: UTF8.self)
            return .verify(.external(certificateFingerprint: certificateFingerprint, authorizationIdentity: identity))
        case .plain:
            // authzid NUL authcid NUL password.
            let fields = payload.split(separator: 0, omittingEmptySubsequences: false)
            guard fields.count == 3 else {
                self = .idle
                return .failed(.malformed)
            }
            self = .verifying(mechanism: mechanism)
            return .verify(
                .plain(user: String(decoding: fields[1], as: UTF8.self), password: String(decoding: fields[2], as: UTF8.self)))
        }
    }
}
