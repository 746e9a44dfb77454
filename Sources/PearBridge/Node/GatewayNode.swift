import Sodium
import CompactEncoding
import Logging
import LoopExecutors
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwarmEngine
import Synchronization

/// Everything a peer-to-peer gateway runs, wired together: the `Gateway` (rooms, logs, replication), the TCP peer
/// transport and its listener (static peers), the DHT swarm (rooms found by topic, peers dialled by key), and the
/// `PeerConnectionManager` that keeps one connection per peer, however it was made, and hands each to the gateway.
/// `services` lists them in start order for a `ServiceGroup`, which stops them in reverse: front ends first, then the
/// peer listener, then the peers (ended cleanly), the DHT node, the gateway (and its store) last.
public final class GatewayNode: Sendable {
    public struct Configuration: Sendable {
        /// Where other gateways connect; nil for none.
        public var peerListener: (host: String, port: Int)?
        /// Gateways to keep connected to.
        public var staticPeers: [PeerAddress] = []
        /// The DHT swarm's node (where it binds, where it bootstraps); nil runs without the DHT (`--no-dht`): rooms
        /// are then shared with static peers only.
        public var dht: DHTSwarm.Configuration?
        /// The most peers connected at once (Hyperswarm's default).
        public var maximumPeers = 64
        public var retry = RetrySchedule()
        /// How long a peer dropped for misbehaviour is refused.
        public var banDuration: Duration = .seconds(600)

        public init(peerListener: (host: String, port: Int)? = nil, staticPeers: [PeerAddress] = []) {
            self.peerListener = peerListener
            self.staticPeers = staticPeers
        }
    }

    /// The gateway's own key file: connections run under it, not under the identity of the person it speaks for.
    public static let transportKeyFileName = "transport.key"

    public let gateway: Gateway
    /// The public key the gateway's connections and DHT server run under.
    public let transportKey: [UInt8]
    public let connections: PeerConnectionManager
    public let transport: any PeerTransport
    /// The DHT swarm, unless running without the DHT.
    public let swarm: DHTSwarm?
    private let configuration: Configuration
    private let logger: Logger

    /// - Parameters:
    ///   - identity: the gateway's first person (their logs are signed with it; proven to peers on each connection,
    ///     `PeopleWire`); `people`: the others it speaks for (its other accounts).
    ///   - transportKey: the gateway's own key, which its connections (Noise) and its DHT server run under; nil loads
    ///     (or creates) `transport.key` in the data directory.
    public init(
        directory: DataDirectory, identity: Identity, people: [Ed25519.KeyPair] = [], transportKey: Identity? = nil,
        configuration: Configuration,
        group: (any EventLoopGroup)? = nil, transport: (any PeerTransport)? = nil, discovery: (any PeerDiscovery)? = nil,
        logger: Logger
    ) throws {
        let transportKey = try transportKey ?? Identity.loadOrCreate(in: directory, fileName: Self.transportKeyFileName)
        let transport = transport ?? SwarmTransport(keyPair: transportKey.keyPair, logger: Logger(label: "pearircd.swarm"), group: group)
        // The gateway reports misbehaving peers to the manager, which it has not met yet: the box closes the loop.
        let manager = ManagerBox()
        let swarm = configuration.dht.map { dht in
            DHTSwarm(
                keyPair: transportKey.keyPair, configuration: dht, eventLoop: group?.next() ?? MultiThreadedEventLoopGroup.singleton.next(),
                logger: logger)
        }
        let staticPeers = discovery ?? StaticPeerDiscovery(configuration.staticPeers)
        let discovery: any PeerDiscovery = swarm.map { CombinedPeerDiscovery([staticPeers, $0]) } ?? staticPeers
        // The gateway runs on the peers' event loop, when there is one (see `Gateway.unownedExecutor`).
        let executor = group.map { EventLoopExecutor($0.next()) }
        let gateway = try Gateway(
            directory: directory, identity: identity, people: people, logger: logger, discovery: discovery, executor: executor
        ) { key, reason in
            manager.ban(key, reason: "\(reason)")
        }
        let connections = PeerConnectionManager(
            localKey: transportKey.keyPair.publicKey, transport: transport, keyDialler: swarm,
            discovery: discovery, retry: configuration.retry, maximumPeers: configuration.maximumPeers,
            banDuration: configuration.banDuration, logger: logger
        ) { connection in
            await gateway.attach(connection)
        }
        manager.set(connections)
        swarm?.setHooks { hooks in
            hooks.relayStarted = { key in gateway.offerRelay(key) }
            hooks.offeredRelays = { await gateway.offeredRelays }
        }
        self.gateway = gateway
        self.transportKey = transportKey.keyPair.publicKey
        self.connections = connections
        self.transport = transport
        self.swarm = swarm
        self.configuration = configuration
        self.logger = logger
    }

    /// Binds the peer listener, if configured; returns its port. Connections it accepts go through the manager.
    public func startPeerListener() async throws -> Int? {
        guard let (host, port) = configuration.peerListener else { return nil }
        let connections = self.connections
        return try await transport.listen(host: host, port: port) { connection in connections.accepted(connection) }
    }

    /// Binds the DHT node's socket, if the DHT is on, and starts bootstrapping and listening for connections by key
    /// in the background; returns the socket's address.
    public func startSwarm() async throws -> IPv4Endpoint? {
        guard let swarm else { return nil }
        let address = try await swarm.bind()
        let connections = self.connections
        swarm.start { connection in connections.accepted(connection) }
        return address
    }

    /// The node's services in start order (front ends go after them).
    public var services: [any Service] {
        [gateway] + (swarm.map { [SwarmService(swarm: $0)] } ?? []) + [connections, TransportService(transport: transport)]
    }

    /// `/msg PearServ connect HOST:PORT`.
    public var connector: PearServ.Connector {
        let connections = self.connections
        return { address in
            switch try await connections.connect(to: address) {
            case .connected, .alreadyConnected: break
            case .refused(let refusal): throw PeerRefused(refusal: refusal)
            }
        }
    }

    struct PeerRefused: Error, CustomStringConvertible {
        let refusal: PeerConnectionTable.Refusal
        var description: String {
            switch refusal {
            case .banned: "that peer is banned for misbehaving"
            case .ownKey: "that address is this gateway"
            case .duplicate: "already connected"
            case .full: "as many peers are connected as this gateway allows"
            }
        }
    }
}

/// Closes the transport's listeners when the group stops (after the front ends, before the peers are ended).
struct TransportService: Service {
    let transport: any PeerTransport

    func run() async throws {
        try? await gracefulShutdown()
        try await transport.shutdown()
    }
}

/// Closes the DHT swarm when the group stops, after the peers are ended (its UDX streams carry some of them).
struct SwarmService: Service {
    let swarm: DHTSwarm

    func run() async throws {
        try? await gracefulShutdown()
        await swarm.close()
    }
}

/// The manager, once made, for the gateway's misbehaviour callback.
private final class ManagerBox: Sendable {
    private let manager = Mutex<PeerConnectionManager?>(nil)

    func set(_ value: PeerConnectionManager) { manager.withLock { $0 = value } }

    func ban(_ key: [UInt8], reason: String) {
        manager.withLock { $0 }?.ban(key, reason: reason)
    }
}
