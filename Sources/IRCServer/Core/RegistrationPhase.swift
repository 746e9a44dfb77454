/// How far a client is through connection registration (RFC 2812 3.1, with IRCv3 capability negotiation holding it
/// until CAP END). NICK and USER are not part of it: they are the client's data, kept after registration too.
enum RegistrationPhase: Sendable, Hashable {
    /// Connected and not registered: registration completes once both NICK and USER have been given.
    case connected
    /// CAP LS or CAP REQ came before registration: it also waits for CAP END.
    case negotiatingCapabilities
    /// Welcomed (001): every command is open to the client. Remote users are created in this phase.
    case registered

    /// CAP LS or CAP REQ: before registration, it now waits for CAP END.
    mutating func capabilityNegotiationStarted() {
        if self == .connected { self = .negotiatingCapabilities }
    }

    /// CAP END: registration may complete. After registration, CAP END changes nothing.
    mutating func capabilityNegotiationEnded() {
        if self == .negotiatingCapabilities { self = .connected }
    }

    /// Whether registration completes as soon as NICK and USER are both known.
    var completesWithNickAndUser: Bool { self == .connected }
}
