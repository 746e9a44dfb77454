import Foundation

/// The SASL mechanisms this server offers; `SASLCredentials.mechanisms` advertises the same names.
enum SASLMechanism: String, Sendable, CaseIterable {
    case plain = "PLAIN"
    case external = "EXTERNAL"
    /// Offered when the backend keeps SCRAM credentials (`IRCServerConfiguration.offersSCRAM`).
    case scramSHA256 = "SCRAM-SHA-256"
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
    /// SCRAM: the client's first message named an account whose credentials the backend is looking up
    /// (`scramCredentialsFound`).
    case scramLookingUp(SCRAMServerExchange.ClientFirst)
    /// SCRAM: the server-first message went out; the client's final message arrives (in chunks), `received` so far.
    case scramAwaitingFinal(SCRAMServerExchange, received: String)
    /// SCRAM: the proof was right and the server's signature went out; the client's `+` completes the login.
    case scramAwaitingAck(account: String)

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
        /// SCRAM: the backend looks up the account's credentials.
        case lookUpSCRAM(account: String)
        /// SCRAM: send the server's final message (base64, `AUTHENTICATE`).
        case sendSCRAM([UInt8])
        /// SCRAM: the client acknowledged the server's signature: logged in.
        case loggedIn(account: String)
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
    /// The account's credentials (or, for a name without any, `decoy`'s, so the client learns nothing until its proof
    /// fails) arrived: the exchange goes on with the server-first message, returned for sending.
    mutating func scramCredentialsFound(
        for account: String, _ credentials: SCRAMCredentials?, decoy: SCRAMCredentials, serverNonce: String
    ) -> [UInt8]? {
        guard case .scramLookingUp(let first) = self, first.username == account else { return nil }
        let exchange = SCRAMServerExchange(clientFirst: first, credentials: credentials ?? decoy, serverNonce: serverNonce)
        self = .scramAwaitingFinal(exchange, received: "")
        return exchange.serverFirstMessage
    }

    /// Bound on a whole payload, in base64 characters: PLAIN and EXTERNAL need far less.
    static let maximumPayloadLength = 4096

    var isUnderWay: Bool { self != .idle }

    /// One AUTHENTICATE argument from the client. `certificateFingerprint`: the TLS client certificate the
    /// connection presented, if any (what EXTERNAL proves); `offersSCRAM`: whether SCRAM-SHA-256 is offered.
    mutating func receive(_ argument: String, certificateFingerprint: String?, offersSCRAM: Bool = false) -> Step {
        if argument == "*" {
            self = .idle
            return .aborted
        }
        switch self {
        case .idle:
            return start(argument.uppercased(), certificateFingerprint: certificateFingerprint, offersSCRAM: offersSCRAM)
        case .scramLookingUp:
            // The client's lines are held while the look-up runs; anything arriving anyway ends the exchange.
            self = .idle
            return .failed(.malformed)
        case .scramAwaitingFinal(let exchange, let received):
            let encoded: String
            switch Self.chunk(argument, after: received) {
            case .tooLong:
                self = .idle
                return .failed(.tooLong)
            case .more(let sofar):
                self = .scramAwaitingFinal(exchange, received: sofar)
                return .awaitingMore
            case .complete(let whole):
                encoded = whole
            }
            self = .idle
            guard let payload = Data(base64Encoded: encoded) else { return .failed(.invalidBase64) }
            do {
                let serverFinal = try exchange.finish(Array(payload))
                self = .scramAwaitingAck(account: exchange.clientFirst.username)
                return .sendSCRAM(serverFinal)
            } catch {
                return .failed(.malformed)
            }
        case .scramAwaitingAck(let account):
            self = .idle
            return argument == "+" ? .loggedIn(account: account) : .failed(.malformed)
        case .awaitingPayload(let mechanism, let received):
            return collect(argument, into: received, for: mechanism, certificateFingerprint: certificateFingerprint)
        case .verifying(let mechanism):
            // The client's lines are held while the verdict is awaited, so this comes only once the backend let the
            // deferred-answer timeout pass: the argument starts a payload for the same mechanism afresh.
            return collect(argument, into: "", for: mechanism, certificateFingerprint: certificateFingerprint)
        }
    }

    private mutating func start(_ name: String, certificateFingerprint: String?, offersSCRAM: Bool) -> Step {
        guard let mechanism = SASLMechanism(rawValue: name), mechanism != .scramSHA256 || offersSCRAM else { return .unknownMechanism }
        if mechanism == .external, certificateFingerprint == nil { return .noCertificate }
        self = .awaitingPayload(mechanism: mechanism, received: "")
        return .askForPayload
    }

    /// One AUTHENTICATE chunk added to what came before it (SASL 3.1: a 400-byte chunk says more follows; a shorter
    /// one, or `+`, ends the payload).
    enum Chunking {
        case tooLong
        case more(String)
        case complete(String)
    }

    static func chunk(_ argument: String, after received: String) -> Chunking {
        let encoded = argument == "+" ? received : received + argument
        guard encoded.count <= maximumPayloadLength else { return .tooLong }
        return argument.count == chunkLength ? .more(encoded) : .complete(encoded)
    }

    private mutating func collect(
        _ argument: String, into received: String, for mechanism: SASLMechanism, certificateFingerprint: String?
    ) -> Step {
        let encoded: String
        switch Self.chunk(argument, after: received) {
        case .tooLong:
            self = .idle
            return .failed(.tooLong)
        case .more(let sofar):
            self = .awaitingPayload(mechanism: mechanism, received: sofar)
            return .awaitingMore
        case .complete(let whole):
            encoded = whole
        }
        guard let payload = encoded.isEmpty ? [] : Data(base64Encoded: encoded).map({ [UInt8]($0) }) else {
            self = .idle
            return .failed(.invalidBase64)
        }
        switch mechanism {
        case .scramSHA256:
            guard let first = try? SCRAMServerExchange.parseClientFirst(payload) else {
                self = .idle
                return .failed(.malformed)
            }
            self = .scramLookingUp(first)
            return .lookUpSCRAM(account: first.username)
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
