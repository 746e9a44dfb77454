import Logging
import NIOCore
import NIOPosix
import Sodium
import Synchronization

/// Accepts and dials secret-stream connections over TCP (Noise XX, then protomux), yielding authenticated
/// `SwarmConnection`s: the `PeerTransport` of today.
public final class SwarmTransport: PeerTransport {
    let group: any EventLoopGroup
    /// Whether `shutdown()` shuts `group` down (it does when the transport made it).
    private let ownsGroup: Bool
    private let listeners = Mutex<[any Channel]>([])
    let keyPair: Ed25519.KeyPair
    let logger: Logger
    let handshakeTimeout: TimeAmount
    /// How long a dial waits for the TCP connection to be accepted.
    let connectTimeout: TimeAmount
    let liveness: SwarmConnectionHandler.Liveness
    let maximumFrameLength: Int
    /// Bounds on inbound connections and handshakes (and the rate of their log lines).
    public let inbound: InboundPeerAdmission

    /// The default bound on a received data frame here: 4 MiB. secret-stream itself allows every uint24 length
    /// (16 MiB − 1), but nothing PearIRC peers exchange comes near 4 MiB (room entries are a few hundred bytes,
    /// replication answers a request at a time), and a lower bound means a peer announcing a 16 MiB frame is
    /// disconnected at once instead of being buffered for.
    public static let defaultMaximumFrameLength = 4 * 1024 * 1024

    /// - Parameters:
    ///   - keepAlive: send an empty frame after this long without writes (HyperDHT uses 5 s); nil disables.
    ///   - idleTimeout: close a connection that received nothing for this long; nil disables.
    ///   - maximumFrameLength: the largest data frame accepted (secret-stream's own limit is 16 MiB − 1).
    ///   - maximumQueuedBytes: close a connection whose peer leaves more than this unread.
    public init(
        keyPair: Ed25519.KeyPair, handshakeTimeout: TimeAmount = .seconds(10), connectTimeout: TimeAmount = .seconds(5),
        keepAlive: TimeAmount? = .seconds(5),
        idleTimeout: TimeAmount? = .seconds(20), maximumFrameLength: Int = SwarmTransport.defaultMaximumFrameLength,
        maximumQueuedBytes: Int = 64 * 1024 * 1024, inboundLimits: InboundPeerAdmission.Limits = .init(),
        logger: Logger = Logger(label: "pearircd.swarm"), group: (any EventLoopGroup)? = nil
    ) {
        inbound = InboundPeerAdmission(limits: inboundLimits, logger: logger)
        self.keyPair = keyPair
        self.logger = logger
        self.handshakeTimeout = handshakeTimeout
        self.connectTimeout = connectTimeout
        self.maximumFrameLength = maximumFrameLength
        liveness = .init(keepAlive: keepAlive, idleTimeout: idleTimeout, maximumQueuedBytes: maximumQueuedBytes)
        // One event-loop group for the whole daemon when the caller shares theirs.
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        ownsGroup = group == nil
    }

    /// Listens on `host:port`; every connection that completes its handshake is handed to `onConnection`.
    /// Returns the listening channel and the bound port.
    public func listen(
        host: String, port: Int, onConnection: @escaping @Sendable (SwarmConnection) -> Void
    ) async throws -> (any Channel, Int) {
        let keyPair = self.keyPair, logger = self.logger, timeout = handshakeTimeout, liveness = self.liveness
        let maximumFrameLength = self.maximumFrameLength, inbound = self.inbound
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // The peer's end is seen as an event, so what we already sent is still written before we close.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                guard inbound.beginHandshake() else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let promise = channel.eventLoop.makePromise(of: SwarmConnection.self)
                    let session = try SecretStreamSession(
                        isInitiator: false, staticKeyPair: keyPair, maximumFrameLength: maximumFrameLength)
                    let label = channel.remoteAddress.map(Self.label) ?? "?"
                    try channel.pipeline.syncOperations.addHandler(
                        SwarmConnectionHandler(
                            session: session, established: promise, label: label, logger: logger, liveness: liveness))
                    // Closing settles the promise (as closedDuringHandshake) through the handler.
                    let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                    promise.futureResult.whenComplete { result in
                        timer.cancel()
                        switch result {
                        case .success(let connection):
                            guard inbound.handshakeSucceeded() else {
                                channel.close(promise: nil)
                                return
                            }
                            channel.closeFuture.whenComplete { _ in inbound.closed() }
                            onConnection(connection)
                        case .failure:
                            inbound.handshakeFailed()
                        }
                    }
                }
            }
            .bind(host: host, port: port).get()
        listeners.withLock { $0.append(channel) }
        return (channel, channel.localAddress?.port ?? port)
    }

    public func listen(host: String, port: Int, onConnection: @escaping @Sendable (any PeerConnection) -> Void) async throws -> Int {
        try await listen(host: host, port: port) { (connection: SwarmConnection) in onConnection(connection) }.1
    }

    public func connect(to address: PeerAddress, expectedRemoteKey: [UInt8]?) async throws -> any PeerConnection {
        try await connect(host: address.host, port: address.port, expectedRemoteKey: expectedRemoteKey)
    }

    /// Dials `host:port` and completes the handshake. With `expectedRemoteKey`, a peer proving another identity
    /// is refused during the handshake, before our own identity is sent (`SwarmConnectionError.unexpectedRemoteKey`).
    public func connect(host: String, port: Int, expectedRemoteKey: [UInt8]? = nil) async throws -> SwarmConnection {
        let keyPair = self.keyPair, logger = self.logger, timeout = handshakeTimeout, liveness = self.liveness
        let maximumFrameLength = self.maximumFrameLength
        let promiseBox = Mutex<EventLoopPromise<SwarmConnection>?>(nil)
        // Bounded, so a dial towards an address that never answers cannot hold a shutdown for long.
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let promise = channel.eventLoop.makePromise(of: SwarmConnection.self)
                    promiseBox.withLock { $0 = promise }
                    let session = try SecretStreamSession(
                        isInitiator: true, staticKeyPair: keyPair, expectedRemotePublicKey: expectedRemoteKey,
                        maximumFrameLength: maximumFrameLength)
                    try channel.pipeline.syncOperations.addHandler(
                        SwarmConnectionHandler(
                            session: session, established: promise, label: "\(host):\(port)", logger: logger,
                            liveness: liveness))
                }
            }
            .connect(host: host, port: port).get()
        guard let promise = promiseBox.withLock({ $0 }) else { throw SwarmConnectionError.closedDuringHandshake }
        let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        // A cancelled dialler (its owner is shutting down) does not wait out the handshake: closing the channel
        // settles the promise at once.
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// `HOST:PORT` (`[HOST]:PORT` for IPv6) as people write addresses, not NIO's `[IPv4]127.0.0.1/127.0.0.1:55916`.
    static func label(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// Closes the listeners (connections already made stay: their owners end them) and, when the transport made its
    /// own event-loop group, shuts it down.
    public func shutdown() async throws {
        for channel in listeners.withLock({ channels in defer { channels = [] }; return channels }) {
            try? await channel.close()
        }
        if ownsGroup { try await group.shutdownGracefully() }
    }
}
