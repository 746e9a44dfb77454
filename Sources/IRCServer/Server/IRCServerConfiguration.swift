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

    /// Text every `msgid` this server makes starts with (a random part and a counter follow), e.g. the
    /// peer-to-peer gateway's identity namespace, which lets other gateways tell whose ids a line may carry.
    public var messageIDNamespace = ""
    /// The namespace of the `msgid`s of a logged-in account's messages, where it is not `messageIDNamespace` (a gateway
    /// speaking for several people: each person's own); nil answers fall back to `messageIDNamespace`. Called on the
    /// IRC loop for every message: it must be a look-up, not a query.
    public var messageIDNamespaceOfAccount: (@Sendable (String) -> String?)?

    // Limits.
    public var maximumConnections = 1024
    /// Most connections still registering; past it, the oldest of them is closed to admit a new one (so clients that
    /// never register cannot lock others out for the registration timeout).
    public var maximumUnregisteredConnections = 128
    /// Most connections from one non-loopback address.
    public var maximumConnectionsPerAddress = 32
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
    /// Lines held for a flooding client before it is disconnected ("Excess Flood").
    public var floodQueueLength = 64
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
    /// Whether a channel line is shown (to the channel, and echoed to its sender) only once the backend reports it stored
    /// (`ChatBackend.keep`): a backend whose lines must survive a crash (the peer-to-peer rooms) sets it, so a line a
    /// user saw as sent is never lost, and one that could not be stored is an error the sender sees.
    public var channelLinesAwaitStorage = false
    /// Service pseudo-users whose private messages go to the backend (PearIRC: `PearServ`).
    public var serviceNames: [String] = []
    /// Which channel modes a new channel starts with, and which modes are refused. A backend whose channels are
    /// shared with other servers that do not obey this one (the peer-to-peer rooms) refuses the modes it cannot
    /// enforce, rather than let them half-work.
    public var channelModes = ChannelModePolicy()
    /// The text of the 401 a private message to a remote user gets while the backend cannot carry it (no false echo:
    /// the sender must know it was not delivered). The peer-to-peer gateway says why in its own words.
    public var remotePrivateMessageRefusal = "Private messages to remote users are not carried by this server"
    /// Whether private messages to remote users, and to targets not known here, go to the backend to carry
    /// (`ChatBackend.carry`; the peer-to-peer gateway's direct messages). Shown to the sender once stored.
    public var carriesRemotePrivateMessages = false
    /// Whether a JOIN's key chooses which room the channel is (the peer-to-peer gateway's private rooms): the key of
    /// the first local member's JOIN reaches the backend (remote members do not count: the channel may outlive our
    /// user's part through them), and while local members are in it, a local JOIN with another key is refused (475).
    public var keyedJoinsChooseRooms = false
    /// Whether SASL SCRAM-SHA-256 is offered: the backend keeps SCRAM credentials (`ChatBackend.scramCredentials`).
    public var offersSCRAM = false
    /// Whether every connection must log in (SASL, or PASS) before it registers: the gateway once it has accounts.
    public var requiresLogin = false
    /// Asked at each new connection whether it must log in (with `requiresLogin` true, it must anyway): the gateway's
    /// accounts may be added while it runs (`pearircd account add`), and from the first one on, logins are required.
    public var loginRequirement: (@Sendable () -> Bool)?
    /// Whether `PASS account:password` (or PASS with the USER name as account) logs in, checked as SASL PLAIN. A
    /// connection that must log in takes PASS regardless.
    public var passwordLogin = false
    /// Whether passwords in the clear (SASL PLAIN, PASS, REGISTER) are taken only over TLS or from loopback.
    public var passwordsNeedSecureConnection = false
    /// Whether a client logged in may authenticate again as another account (SASL 3.2 re-authentication). Where the
    /// account is the person (the gateway), a connection stays with its account: re-authenticating as it is fine.
    public var accountSwitching = true
    /// Whether connections logged in to one account are one person (what a bouncer gives: a laptop and a phone at
    /// once): a connection that logs in to an account already here joins that person's nick and channels, sees
    /// its lines from the other connections, and leaves nothing behind when it goes while another stays
    /// (`Sessions.swift`). Such a connection does not switch accounts (as with `accountSwitching` off).
    public var sharedAccountSessions = false
    /// IRCv3 account registration (`REGISTER`), when offered.
    public var accountRegistration: AccountRegistrationPolicy?
    /// Whether `accountRegistration` is offered right now (a gateway's admins open and close self-registration while it
    /// runs); nil: always. Asked at CAP LS and REGISTER, on the IRC loop: it must be a look-up, not a query.
    public var accountRegistrationOpen: (@Sendable () -> Bool)?
    /// Most private messages from remote users kept for the next client to connect while no client is connected (so a
    /// message that arrived meanwhile is not missed), the oldest dropped first.
    public var privateMessagesKeptWhileAway = 500
    /// `OPER` credentials: name → Argon2id hash string (`PasswordHash` format), checked by the backend.
    public var operators: [String: String] = [:]
    /// Checks an OPER password against its hash from `operators` (e.g. libsodium's Argon2id `crypto_pwhash_str_verify`,
    /// which this module does not link). Called off the server's actor, since a check is deliberately slow. Without
    /// it, OPER always fails.
    public var operatorPasswordVerifier: (@Sendable (_ password: String, _ hash: String) -> Bool)?
    /// IRCv3 Strict Transport Security, advertised as the `sts` capability. Set it only when the TLS certificate is
    /// one clients can verify: a client that honours the policy refuses plain text afterwards and checks the
    /// certificate, so advertising it with a self-signed certificate locks such clients out.
    public struct STSPolicy: Sendable, Hashable {
        /// The TLS port plain-text clients are told to reconnect to.
        public var port: Int
        /// Seconds a client keeps the policy (sent on TLS connections).
        public var duration: Int

        public init(port: Int, duration: Int = 2_592_000) {
            self.port = port
            self.duration = duration
        }
    }

    public var stsPolicy: STSPolicy?
    /// How long a client's lines are held for a late backend answer (SASL, history, OPER) before they run anyway.
    public var deferredAnswerTimeout: Duration = .seconds(30)
    /// Users remembered for WHOWAS.
    public var whowasLength = 256

    public init() {}
}

/// Channel modes a server starts channels with and the ones it refuses (see `IRCServerConfiguration.channelModes`).
public struct ChannelModePolicy: Sendable, Hashable {
    /// Flags a new channel gets: `n` (no messages from outside) and `t` (topic set by operators only) by default.
    public var defaults: Set<Character> = ["n", "t"]
    /// Modes refused when set (472 with `refusalReason`), and left out of ISUPPORT's CHANMODES. Clearing them is
    /// always allowed, and a bare `MODE #c b` still lists bans.
    public var refused: Set<Character> = []
    public var refusalReason = "is not supported here"

    public init(defaults: Set<Character> = ["n", "t"], refused: Set<Character> = [], refusalReason: String = "is not supported here") {
        self.defaults = defaults
        self.refused = refused
        self.refusalReason = refusalReason
    }
}
