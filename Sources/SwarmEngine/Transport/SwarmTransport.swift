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
    let tcpCongestionControl: String?
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
    ///   - tcpCongestionControl: the kernel's congestion control for this transport's sockets (`TCP_CONGESTION`,
    ///     e.g. "cubic"); nil keeps the system's default. The UDX comparison benchmarks set it.
    public init(
        keyPair: Ed25519.KeyPair, handshakeTimeout: TimeAmount = .seconds(10), connectTimeout: TimeAmount = .seconds(5),
        keepAlive: TimeAmount? = .seconds(5),
        idleTimeout: TimeAmount? = .seconds(20), maximumFrameLength: Int = SwarmTransport.defaultMaximumFrameLength,
        maximumQueuedBytes: Int = 64 * 1024 * 1024, inboundLimits: InboundPeerAdmission.Limits = .init(),
        logger: Logger = Logger(label: "pearircd.swarm"), group: (any EventLoopGroup)? = nil,
        tcpCongestionControl: String? = nil
    ) {
        self.tcpCongestionControl = tcpCongestionControl
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
        let congestionControl = tcpCongestionControl
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // The peer's end is seen as an event, so what we already sent is still written before we close.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                guard inbound.beginHandshake() else { return channel.close() }
                return Self.setCongestionControl(congestionControl, on: channel).flatMapErrorThrowing { error in
                    inbound.handshakeFailed()
                    throw error
                }.flatMapThrowing {
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
        let maximumFrameLength = self.maximumFrameLength, congestionControl = tcpCongestionControl
        let promiseBox = Mutex<EventLoopPromise<SwarmConnection>?>(nil)
        let channel: any Channel
        do {
            // Bounded, so a dial towards an address that never answers cannot hold a shutdown for long.
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    Self.setCongestionControl(congestionControl, on: channel).flatMapThrowing {
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
        } catch let error as NIOConnectionError {
            // NIO wraps what our channel initializer threw in its per-address report; our own refusal is the news.
            if let refusal = error.connectionErrors.lazy.compactMap({ $0.error as? SwarmTransportError }).first {
                throw refusal
            }
            throw error
        }
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

    /// Sets `TCP_CONGESTION` when `name` is given. The kernel takes the algorithm's name (up to 15 bytes, stopping at
    /// the first NUL) and refuses one it does not have (ENOENT) or may not use (EPERM): that is an error, not a
    /// silent fall-back to the default, so a measurement never reports one algorithm's figures under another's name.
    static func setCongestionControl(_ name: String?, on channel: any Channel) -> EventLoopFuture<Void> {
        guard let name else { return channel.eventLoop.makeSucceededVoidFuture() }
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(SwarmTransportError.congestionControlRefused(name, errno: 0))
        }
        var bytes = [CChar](repeating: 0, count: 16)
        for (index, byte) in name.utf8.prefix(15).enumerated() { bytes[index] = CChar(bitPattern: byte) }
        let value = (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
            bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15])
        // TCP_CONGESTION (13) at IPPROTO_TCP, which Glibc's Swift overlay does not name.
        return provider.unsafeSetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: 6), name: NIOBSDSocket.Option(rawValue: 13), value: value
        ).flatMapErrorThrowing { error in
            throw SwarmTransportError.congestionControlRefused(name, errno: (error as? IOError)?.errnoCode ?? 0)
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

/// What the transport itself refuses, before any handshake.
public enum SwarmTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kernel would not set this TCP congestion control on the socket (`errno`: ENOENT when it has no such
    /// algorithm, EPERM when an unprivileged process may not choose it).
    case congestionControlRefused(String, errno: Int32)

    public var description: String {
        switch self {
        case .congestionControlRefused(let name, let code):
            "the kernel refused TCP congestion control \"\(name)\" (errno \(code))"
        }
    }
}
