import Logging
import LoopExecutors
import NIOCore
import ServiceLifecycle
import SwarmEngine
import Synchronization

/// Everything a peer-to-peer gateway runs, wired together: the `Gateway` (rooms, logs, replication), the peer
/// transport and its listener, discovery, and the `PeerConnectionManager` that keeps one connection per peer and
/// hands each to the gateway. `services` lists them in start order for a `ServiceGroup`, which stops them in reverse:
/// front ends first, then the peer listener, then the peers (ended cleanly), the gateway (and its store) last.
public final class GatewayNode: Sendable {
    public struct Configuration: Sendable {
        /// Where other gateways connect; nil for none.
        public var peerListener: (host: String, port: Int)?
        /// Gateways to keep connected to.
        public var staticPeers: [PeerAddress] = []
        /// Blind relays (their public keys, `--relay`) for connections by public key that cannot punch through: the
        /// HyperDHT connect and listen of the swarm rooms (issue 18) take them; nothing in the gateway dials by key
        /// before that.
        public var relays: [[UInt8]] = []
        public var retry = RetrySchedule()
        /// How long a peer dropped for misbehaviour is refused.
        public var banDuration: Duration = .seconds(600)

        public init(peerListener: (host: String, port: Int)? = nil, staticPeers: [PeerAddress] = []) {
            self.peerListener = peerListener
            self.staticPeers = staticPeers
        }
    }

    public let gateway: Gateway
    public let connections: PeerConnectionManager
    public let transport: any PeerTransport
    private let configuration: Configuration
    private let logger: Logger

    public init(
        directory: DataDirectory, identity: Identity, configuration: Configuration, group: (any EventLoopGroup)? = nil,
        transport: (any PeerTransport)? = nil, discovery: (any PeerDiscovery)? = nil, logger: Logger
    ) throws {
        let transport = transport ?? SwarmTransport(keyPair: identity.keyPair, logger: Logger(label: "pearircd.swarm"), group: group)
        // The gateway reports misbehaving peers to the manager, which it has not met yet: the box closes the loop.
        let manager = ManagerBox()
        let discovery = discovery ?? StaticPeerDiscovery(configuration.staticPeers)
        // The gateway runs on the peers' event loop, when there is one (see `Gateway.unownedExecutor`).
        let executor = group.map { EventLoopExecutor($0.next()) }
        let gateway = try Gateway(directory: directory, identity: identity, logger: logger, discovery: discovery, executor: executor) { key, reason in
            manager.ban(key, reason: "\(reason)")
        }
        let connections = PeerConnectionManager(
            localKey: identity.keyPair.publicKey, transport: transport,
            discovery: discovery, retry: configuration.retry,
            banDuration: configuration.banDuration, logger: logger
        ) { connection in
            await gateway.attach(connection)
        }
        manager.set(connections)
        self.gateway = gateway
        self.connections = connections
        self.transport = transport
        self.configuration = configuration
        self.logger = logger
    }

    /// Binds the peer listener, if configured; returns its port. Connections it accepts go through the manager.
    public func startPeerListener() async throws -> Int? {
        guard let (host, port) = configuration.peerListener else { return nil }
        let connections = self.connections
        return try await transport.listen(host: host, port: port) { connection in connections.accepted(connection) }
    }

    /// The node's services in start order (front ends go after them).
    public var services: [any Service] {
        [gateway, connections, TransportService(transport: transport)]
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

/// The manager, once made, for the gateway's misbehaviour callback.
private final class ManagerBox: Sendable {
    private let manager = Mutex<PeerConnectionManager?>(nil)

    func set(_ value: PeerConnectionManager) { manager.withLock { $0 = value } }

    func ban(_ key: [UInt8], reason: String) {
        manager.withLock { $0 }?.ban(key, reason: reason)
    }
}
