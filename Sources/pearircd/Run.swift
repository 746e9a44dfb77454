import ArgumentParser
import CompactEncoding
import Foundation
import HyperLog
import IRCServer
import Logging
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle
import PearBridge
import Prometheus
import Sodium
import SwarmEngine
import WebFrontEnd

/// `pearircd run`: starts the gateway.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the gateway (the default when no subcommand is given).")

    @OptionGroup var common: CommonOptions

    @Option(
        name: .customLong("config"),
        help: "Options file, one `name value` per line (default: pearircd.conf in the data directory, if present).",
        completion: .file())
    var configFile: String?

    @Flag(help: "Run a plain local IRC server with in-memory channels (no peer-to-peer); used by conformance tests.")
    var standalone = false

    @Option(help: "Address the IRC listeners bind to.")
    var host = "127.0.0.1"

    @Option(help: "Plain-text IRC port (0 picks a free port).")
    var port = 6667

    @Option(name: .customLong("tls-port"), help: "TLS IRC port (0 picks a free port).")
    var tlsPort = 6697

    @Flag(name: .customLong("no-tls"), help: "Do not open the TLS listener.")
    var noTLS = false

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for TLS (default: a self-signed one in the data directory).")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("web-host"), help: "Address the web listener (HTTPS, IRC over WebSocket at /irc) binds to.")
    var webHost = "127.0.0.1"

    @Option(
        name: .customLong("web-port"),
        help: "The web listener's port (default 6443; 0 picks a free port). Given with --no-tls or --standalone, it serves plain HTTP on loopback.")
    var webPort: Int?

    @Flag(name: .customLong("no-web"), help: "Do not open the web listener.")
    var noWeb = false

    @Option(name: .customLong("web-origin"), help: "Another web origin allowed to open the IRC WebSocket, e.g. https://chat.example.org (repeatable).")
    var webOrigins: [String] = []

    @Option(name: .customLong("server-name"), help: "Server name shown to IRC clients.")
    var serverName = "pearircd.local"

    @Option(name: .customLong("sasl-account"), help: "NAME:PASSWORD accepted by SASL PLAIN (standalone mode; repeatable).")
    var saslAccounts: [String] = []

    @Option(
        name: .customLong("sasl-accounts-file"),
        help: "A file of NAME:PASSWORD lines accepted by SASL PLAIN, re-read at every attempt (standalone mode).")
    var saslAccountsFile: String?

    @Option(
        name: .customLong("sasl-certfp"),
        help: "NAME:SHA256 — a TLS client certificate fingerprint accepted by SASL EXTERNAL for account NAME (standalone mode; repeatable).")
    var saslCertificates: [String] = []

    @Flag(
        name: .customLong("allow-registration"),
        help: "Let clients make accounts with IRCv3 REGISTER (standalone mode; they last until it stops).")
    var allowRegistration = false

    @Flag(
        name: .customLong("registration-after-connect"),
        help: "With --allow-registration: REGISTER only once connected (not before NICK/USER complete).")
    var registrationAfterConnect = false

    @Flag(
        name: .customLong("registration-requires-email"),
        help: "With --allow-registration: REGISTER must give an email address (its form is checked; no mail is sent).")
    var registrationRequiresEmail = false

    @Option(name: .customLong("oper"), help: "NAME:PASSWORD of a local IRC operator for OPER (repeatable; kept as an Argon2id hash).")
    var operators: [String] = []

    @Option(name: .customLong("history-on-join"), help: "Lines of history replayed on JOIN to clients without chathistory.")
    var historyOnJoin = 50

    @Option(
        name: .customLong("sendq"),
        help: "Unsent output a client may accumulate before it is disconnected (SendQ exceeded): 16K to 1G, e.g. 2M.")
    var sendQueue = ByteSize(bytes: IRCServerConfiguration().sendQueueLimit)

    @Option(name: .customLong("peer"), help: "Another gateway to connect to, HOST:PORT (repeatable).")
    var peers: [String] = []

    @Option(
        name: .customLong("relay"),
        help: "A blind relay's key (z-base-32, as `pearircd dht-node --serve-relay` prints it) for peers that cannot punch through NATs (repeatable).")
    var relays: [String] = []

    @Option(
        name: .customLong("bootstrap"),
        help: "A HyperDHT node to bootstrap from, IPv4-HOST:PORT (repeatable; default: the public HyperDHT bootstrap nodes).")
    var bootstrap: [String] = []

    @Option(name: .customLong("dht-host"), help: "Address the DHT node's UDP socket binds to.")
    var dhtHost = "0.0.0.0"

    @Option(name: .customLong("dht-port"), help: "The DHT node's UDP port (0 picks a free port).")
    var dhtPort = 0

    @Flag(name: .customLong("no-dht"), help: "Do not join the DHT: rooms are shared with --peer gateways only.")
    var noDHT = false

    @Flag(
        name: .customLong("no-relaying"),
        help: "Do not offer blind relaying to peers (offered by default when this gateway is reachable from outside).")
    var noRelaying = false

    @Option(name: .customLong("peer-host"), help: "Address the peer listener binds to.")
    var peerHost = "0.0.0.0"

    @Option(name: .customLong("peer-port"), help: "Port other gateways connect to (0 picks a free port).")
    var peerPort = 7070

    @Flag(name: .customLong("no-peer-listener"), help: "Do not accept connections from other gateways.")
    var noPeerListener = false

    func validate() throws {
        for entry in bootstrap where DHTNodeCommand.endpoint(entry) == nil {
            throw ValidationError("--bootstrap \(entry): expected IPv4-HOST:PORT")
        }
        guard (0...65535).contains(dhtPort) else { throw ValidationError("--dht-port must be 0 to 65535") }
        if noDHT, !bootstrap.isEmpty { throw ValidationError("--bootstrap and --no-dht contradict each other") }
    }

    /// A relay key as `dht-node --serve-relay` prints it: 32 bytes in z-base-32.
    static func relayKey(_ text: String) throws -> [UInt8] {
        guard let key = ZBase32.decode(text), key.count == 32 else {
            throw ValidationError("--relay takes a relay's public key in z-base-32 (52 characters), got \(text)")
        }
        return key
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "pearircd")
        // Before anything that counts is made: the IRC core, the gateway and its connections record into this, shown at
        // the web listener's /metrics (to loopback clients).
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let directory = common.resolvedDataDirectory
        try directory.prepare()
        // One event-loop group for the daemon: a loop for the IRC side and, in peer-to-peer mode, one for the peers,
        // each subsystem on one thread of its own (an IRC server spread over several loops pays cross-thread hops for
        // every line: measured twice the CPU per delivered line, docs/benchmarks.md).
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: standalone ? 1 : 2)
        let ircLoop = eventLoopGroup.next()

        var configuration = IRCServerConfiguration()
        configuration.serverName = serverName
        configuration.version = "pearircd-\(PearIRCVersion.string)"
        configuration.historyOnJoin = historyOnJoin
        // A client's queue must hold at least one longest line with its tags (8,191 + 512 bytes) and a few more.
        guard (16 * 1024)...(1 << 30) ~= sendQueue.bytes else {
            throw ValidationError("--sendq must be between 16K and 1G (got \(sendQueue))")
        }
        configuration.sendQueueLimit = sendQueue.bytes
        configuration.listeners = [.init(host: host, port: port, tls: false)]
        if !noTLS { configuration.listeners.append(.init(host: host, port: tlsPort, tls: true)) }

        for entry in operators {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--oper takes NAME:PASSWORD") }
            configuration.operators[String(parts[0])] = try PasswordHash.hash(password: Array(parts[1].utf8))
        }
        configuration.operatorPasswordVerifier = { password, hash in
            PasswordHash.verify(password: Array(password.utf8), hash: hash)
        }

        var tls: TLSCertificates.Loaded?
        if !noTLS {
            let source: IRCServerConfiguration.CertificateSource
            if let tlsCertificate, let tlsKey {
                source = .files(certificateChain: tlsCertificate, privateKey: tlsKey)
            } else if tlsCertificate != nil || tlsKey != nil {
                throw ValidationError("--tls-cert and --tls-key go together")
            } else {
                source = .selfSigned(directory: directory.url.path)
            }
            let loaded = try TLSCertificates.load(source)
            logger.info(
                "TLS certificate \(loaded.generated ? "generated" : "loaded")",
                metadata: ["sha256": "\(loaded.fingerprint)"])
            tls = loaded
        }

        let backend: any ChatBackend
        var services: [any Service] = []
        // Whether the gateway has accounts (nil: standalone, whose web listener is for tests on loopback).
        var gatewayHasAccounts: Bool?
        if standalone {
            backend = try standaloneBackend()
            // Its PLAIN accounts can log in with SCRAM-SHA-256 too.
            configuration.offersSCRAM = true
            if allowRegistration {
                configuration.accountRegistration = AccountRegistrationPolicy(
                    beforeConnect: !registrationAfterConnect, requiresEmail: registrationRequiresEmail)
            }
            logger.info("standalone mode: a plain local IRC server")
        } else {
            if allowRegistration {
                throw ValidationError(
                    "--allow-registration is for --standalone: a gateway's admins open self-registration (pearircd account registration open)")
            }
            let identity = try Identity.loadOrCreate(in: directory)
            let transportKey = try Identity.loadOrCreate(in: directory, fileName: GatewayNode.transportKeyFileName)
            logger.info(
                "identity",
                metadata: [
                    "publicKey": "\(identity.publicKeyText)", "transportKey": "\(transportKey.publicKeyText)",
                    "dataDirectory": "\(directory.url.path)",
                ])
            let logins = AccountLogins(database: try AccountDatabase(in: directory), logger: Logger(label: "pearircd.accounts"))
            // Anyone who can reach a listener beyond loopback could speak as the gateway's user: not without accounts.
            guard logins.hasAccounts || LoopbackAddress.contains(host) else {
                throw ValidationError(
                    "--host \(host) lets other machines connect, and this gateway has no accounts: anyone could use it as you. "
                        + "Add one first (pearircd account add NAME), then every connection logs in; or keep --host 127.0.0.1.")
            }
            configureLogins(&configuration, logins)
            gatewayHasAccounts = logins.hasAccounts
            // REGISTER, while an admin has self-registration open (before connecting too: a newcomer cannot finish
            // connecting without an account).
            configuration.accountRegistration = AccountRegistrationPolicy(beforeConnect: true, customAccountName: true)
            configuration.accountRegistrationOpen = { logins.registrationOpen }
            var nodeConfiguration = GatewayNode.Configuration(peerListener: noPeerListener ? nil : (peerHost, peerPort))
            for peer in peers {
                guard let address = PeerAddress(parsing: peer) else { throw ValidationError("--peer takes HOST:PORT, got \(peer)") }
                nodeConfiguration.staticPeers.append(address)
            }
            let relayKeys = try relays.map(Self.relayKey)
            if !noDHT {
                let given = bootstrap.compactMap(DHTNodeCommand.endpoint)
                let nodes = try DHTBootstrapNodes.resolve(given: given, persistent: false, environment: ProcessInfo.processInfo.environment)
                var dht = DHTSwarm.Configuration(host: dhtHost, port: dhtPort, bootstrap: nodes)
                dht.relays = relayKeys
                if !noRelaying {
                    // Bounded: a gateway relays for a few pairs of its peers at a modest rate (chat, not bulk).
                    var limits = BlindRelayServer.Limits()
                    limits.sessions = 256
                    limits.pairing.links = 64
                    limits.bytesPerSecond = 2 << 20
                    let relayKey = try Identity.loadOrCreate(in: directory, fileName: "relay.key")
                    dht.relayService = .init(keyPair: relayKey.keyPair, limits: limits)
                }
                nodeConfiguration.dht = dht
            }
            if !relays.isEmpty { logger.info("relays", metadata: ["keys": "\(relays.joined(separator: ", "))"]) }
            // Every account is a person the gateway speaks for from the start (what arrives for any of them is taken).
            let people = logins.people.everyone().map(\.keyPair).filter { $0.publicKey != identity.keyPair.publicKey }
            let node = try GatewayNode(
                directory: directory, identity: identity, people: people, transportKey: transportKey, configuration: nodeConfiguration,
                group: eventLoopGroup.next(), logger: logger)
            let gatewayBackend = GatewayBackend(gateway: node.gateway, connector: node.connector, logins: logins, transportKey: node.transportKey)
            backend = gatewayBackend
            configuration.serviceNames = [PearServ.name]
            // Other gateways do not obey this one: modes it cannot enforce on them are refused, not half applied, and
            // no channel starts topic-locked (nobody could ever set the topic of a room nobody moderates).
            configuration.channelModes = ChannelModePolicy(
                defaults: ["n"], refused: ["t", "m", "i", "k", "l", "b"],
                refusalReason: "cannot be enforced across gateways in a peer-to-peer room yet")
            // Private messages to people on other gateways are direct conversations (end-to-end encrypted logs).
            configuration.carriesRemotePrivateMessages = true
            // A JOIN's key makes the channel a private room; a channel is one room at a time.
            configuration.keyedJoinsChooseRooms = true
            // A line is echoed (and shown to the room) once it is committed to our log: no echoed line is lost.
            configuration.channelLinesAwaitStorage = true
            // Our msgids carry our identity's namespace: peers accept a line's msgid only from its owner.
            configuration.messageIDNamespace = RoomState.messageIDNamespace(for: identity.keyPair.publicKey)
            // Each account's lines carry its own person's namespace (looked up at login, so no query per message).
            let accountPeople = logins.people
            configuration.messageIDNamespaceOfAccount = { account in
                accountPeople.known(account).map { RoomState.messageIDNamespace(for: $0.keyPair.publicKey) }
            }
            if let boundPort = try await node.startPeerListener() { print("listening peers \(peerHost) \(boundPort)") }
            if let dht = try await node.startSwarm() { print("listening dht \(dht.host) \(dht.port)") }
            // Role changes, disabled and removed accounts from `pearircd account …` reach connected clients.
            services = node.services + [AccountStandingService(backend: gatewayBackend)]
        }

        let listener = try await IRCListener.start(
            configuration: configuration, backend: backend, tls: tls?.context, logger: Logger(label: "pearircd.irc"),
            group: ircLoop)
        for bound in listener.boundAddresses {
            // One line per listener on stdout, so scripts (and tests) can read the ports.
            print("listening \(bound.listener.tls ? "tls" : "plain") \(bound.address.ipAddress ?? host) \(bound.address.port ?? 0)")
        }
        fflushStandardOutput()
        services.append(IRCListenerService(listener: listener))
        if let web = try webListener(
            tls: tls, core: listener.core, group: ircLoop, hasAccounts: gatewayHasAccounts ?? true, metrics: metrics, logger: logger) {
            services.append(web)
        }
        try await ShutdownSequence.run(services: services, logger: logger)
        try await eventLoopGroup.shutdownGracefully()
    }

    /// Logins on a gateway: none while it has no accounts (one user, loopback only); from the first account on (even one
    /// added while running), every connection logs in: SASL SCRAM-SHA-256, PLAIN or EXTERNAL, or PASS account:password;
    /// passwords in the clear only over TLS or loopback; a connection stays with the account it logged in to, and the
    /// connections of one account are one person (a laptop and a phone at once: one nick, the same channels).
    private func configureLogins(_ configuration: inout IRCServerConfiguration, _ logins: AccountLogins) {
        configuration.loginRequirement = { logins.hasAccounts }
        configuration.offersSCRAM = true
        configuration.passwordsNeedSecureConnection = true
        configuration.accountSwitching = false
        configuration.sharedAccountSessions = true
    }

    /// The web front end (HTTPS, IRC over WebSocket at /irc), when it is to run: in a gateway by default (over TLS,
    /// with the IRC TLS certificate); with `--no-tls` or in `--standalone` only when `--web-port` is given, then as
    /// plain HTTP (a gateway's on loopback only). Beyond loopback a gateway's needs accounts, as its IRC listeners do.
    private func webListener(
        tls: TLSCertificates.Loaded?, core: IRCServerCore, group: any EventLoopGroup, hasAccounts: Bool,
        metrics: PrometheusCollectorRegistry, logger: Logger
    ) throws -> WebListener? {
        guard !noWeb else { return nil }
        guard tls != nil || webPort != nil else { return nil }
        if standalone, webPort == nil { return nil }
        let https = standalone ? nil : tls?.httpsConfiguration
        // A gateway's logins must not cross a network in the clear (a standalone server, for tests, is as plain as its
        // IRC ports).
        guard https != nil || standalone || LoopbackAddress.contains(webHost) else {
            throw ValidationError("--web-host \(webHost) without TLS would send passwords in the clear: keep it on loopback, or drop --no-tls")
        }
        guard hasAccounts || LoopbackAddress.contains(webHost) else {
            throw ValidationError(
                "--web-host \(webHost) lets other machines connect, and this gateway has no accounts: anyone could use it as you. "
                    + "Add one first (pearircd account add NAME), or keep --web-host 127.0.0.1.")
        }
        let configuration = WebListener.Configuration(
            host: webHost, port: webPort ?? 6443, tls: https, extraOrigins: webOrigins, sendQueueLimit: sendQueue.bytes)
        let scheme = https == nil ? "http" : "https"
        // A gateway's help page lists its service's commands (a standalone server has none).
        let help = standalone ? nil : HelpPage(
            service: PearServ.name,
            commands: PearServ.commands.map { .init(syntax: $0.syntax, summary: $0.summary, adminOnly: $0.role == .admin) })
        return try WebListener(
            configuration: configuration, core: core, group: group, logger: Logger(label: "pearircd.web"), metrics: metrics, help: help
        ) { host, port in
            print("listening web \(host) \(port)")
            fflushStandardOutput()
            logger.info("web front end", metadata: ["url": "\(scheme)://\(host):\(port)/", "websocket": "\(scheme == "https" ? "wss" : "ws")://\(host):\(port)\(WebListener.ircPath)"])
        }
    }

    /// The in-memory backend of `--standalone`, with its SASL accounts.
    private func standaloneBackend() throws -> InMemoryChatBackend {
        var accounts: [String: String] = [:]
        for entry in saslAccounts {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--sasl-account takes NAME:PASSWORD") }
            accounts[String(parts[0])] = String(parts[1])
        }
        var certificates: [String: String] = [:]
        for entry in saslCertificates {
            let parts = entry.split(separator: ":", maxSplits: 1)
            let fingerprint = parts.count == 2 ? InMemoryChatBackend.normalisedFingerprint(String(parts[1])) : ""
            guard fingerprint.count == 64, fingerprint.allSatisfy(\.isHexDigit) else {
                throw ValidationError("--sasl-certfp takes NAME:SHA256 (64 hex digits, colons allowed)")
            }
            certificates[fingerprint] = String(parts[0])
        }
        return InMemoryChatBackend(accounts: accounts, accountsFile: saslAccountsFile, certificates: certificates)
    }
}

/// Flushes stdout (the C `stdout` global is not concurrency-safe to name directly in Swift 6).
func fflushStandardOutput() {
    fflush(nil)
}

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }

    public var defaultValueDescription: String { description }
}
