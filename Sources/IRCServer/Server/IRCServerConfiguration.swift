import Foundation

/// Everything an operator can set about the IRC front end; plain values, no behaviour.
public struct IRCServerConfiguration: Sendable {
    /// One listening socket.
    public struct Listener: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var tls: Bool

        public init(host: String = "127.0.0.1", port: Int, tls: Bool) {
            self.host = host
            self.port = port
            self.tls = tls
        }
    }

    /// Where the TLS certificate comes from.
    public enum CertificateSource: Sendable, Hashable {
        /// A PEM certificate chain and private key given by the operator.
        case files(certificateChain: String, privateKey: String)
        /// Generated on first start into `directory` (self-signed), then reused.
        case selfSigned(directory: String)
    }

    /// Server name shown as the source of server messages; must look like a host name.
    public var serverName = "pearircd.local"
    public var networkName = "PearIRC"
    public var version = "pearircd"
    public var listeners = [Listener(port: 6667, tls: false), Listener(port: 6697, tls: true)]
    public var certificate: CertificateSource?
    public var motd: [String] = ["Welcome to PearIRC: every channel here is a peer-to-peer room."]

    // Limits.
    public var maximumConnections = 1024
    /// Bytes of unsent output a client may accumulate before it is disconnected ("SendQ exceeded").
    public var sendQueueLimit = 512 * 1024
    public var registrationTimeout: Duration = .seconds(60)
    /// Idle time before the server PINGs a client, and how long it then waits for any traffic.
    public var pingInterval: Duration = .seconds(120)
    public var pingTimeout: Duration = .seconds(60)
    /// Flood control: a token bucket of `floodBurst` lines refilled at `floodRate` lines per second.
    public var floodBurst = 20
    public var floodRate = 4.0
    /// Loopback clients (the usual PearIRC set-up: one user, one gateway) skip flood control.
    public var floodExemptLoopback = true
    public var nickLength = 30
    public var channelLength = 64
    public var topicLength = 390
    public var awayLength = 390
    public var kickLength = 390
    public var maximumChannelsPerClient = 100
    public var maximumTargets = 4
    public var monitorLimit = 100
    /// Lines of history replayed on join when the client did not negotiate chathistory.
    public var historyOnJoin = 50
    /// Service pseudo-users whose private messages go to the backend (PearIRC: `PearServ`).
    public var serviceNames: [String] = []
    /// `OPER` credentials: name → Argon2id hash string (`PasswordHash` format), checked by the backend.
    public var operators: [String: String] = [:]

    public init() {}
}
