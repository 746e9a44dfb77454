import Logging
import NIOCore
import NIOPosix
import Sodium
import Synchronization

/// An encrypted, authenticated connection to another peer over TCP: secret-stream (Noise XX) with protomux on top,
/// as `@hyperswarm/secret-stream` + `protomux` run over any duplex stream. Presented to the layers above as a
/// `PeerMux`; everything it receives arrives on `events`.
public final class SwarmConnection: PeerMux {
    public let remotePublicKey: [UInt8]
    public let handshakeHash: [UInt8]
    public let isInitiator: Bool
    public let label: String
    public let events: AsyncStream<PeerEvent>
    let channel: any Channel
    let handler: NIOLoopBound<SwarmConnectionHandler>

    init(
        remotePublicKey: [UInt8], handshakeHash: [UInt8], isInitiator: Bool, label: String, events: AsyncStream<PeerEvent>,
        channel: any Channel, handler: NIOLoopBound<SwarmConnectionHandler>
    ) {
        self.remotePublicKey = remotePublicKey
        self.handshakeHash = handshakeHash
        self.isInitiator = isInitiator
        self.label = label
        self.events = events
        self.channel = channel
        self.handler = handler
    }

    private func onLoop(_ body: @escaping @Sendable (SwarmConnectionHandler) -> Void) {
        let handler = self.handler
        channel.eventLoop.execute { body(handler.value) }
    }

    public func open(protocol name: String, id: [UInt8], handshake: [UInt8]) {
        onLoop { $0.sendFrame { mux in mux.open(protocol: name, id: id, handshake: handshake) } }
    }

    public func send(protocol name: String, id: [UInt8], type: UInt64, message: [UInt8]) {
        onLoop { $0.sendFrame { mux in mux.send(protocol: name, id: id, type: type, message: message) } }
    }

    public func close(protocol name: String, id: [UInt8]) {
        onLoop { $0.sendFrame { mux in mux.close(protocol: name, id: id) } }
    }

    public func disconnect() {
        channel.close(promise: nil)
    }

    /// Returns once the connection is closed (by either side).
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}

/// Runs secret-stream and protomux over one NIO channel. Lives on the channel's event loop; the connection object
/// reaches it only through `NIOLoopBound`.
final class SwarmConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SecretStreamSession
    private var mux = ProtomuxSession()
    private var context: ChannelHandlerContext?
    private var continuation: AsyncStream<PeerEvent>.Continuation?
    private let established: EventLoopPromise<SwarmConnection>
    /// NIO promises may be completed once only.
    private var settled = false
    private let logger: Logger
    private let label: String

    /// Liveness settings: an empty frame goes out after `keepAlive` without writes, and a connection that
    /// receives nothing for `idleTimeout` is closed (as secret-stream's keepAlive and setTimeout do).
    struct Liveness {
        var keepAlive: TimeAmount?
        var idleTimeout: TimeAmount?
    }

    private let liveness: Liveness
    private var lastWrite = NIODeadline.now()
    private var lastRead = NIODeadline.now()
    private var livenessTimer: RepeatedTask?

    init(
        session: SecretStreamSession, established: EventLoopPromise<SwarmConnection>, label: String, logger: Logger,
        liveness: Liveness = Liveness()
    ) {
        self.session = session
        self.established = established
        self.label = label
        self.logger = logger
        self.liveness = liveness
    }

    /// Starts the keep-alive and idle checks once the connection is encrypted.
    private func startLiveness(context: ChannelHandlerContext) {
        let periods = [liveness.keepAlive, liveness.idleTimeout].compactMap { $0 }
        guard let shortest = periods.min(by: { $0.nanoseconds < $1.nanoseconds }) else { return }
        let tick = TimeAmount.nanoseconds(max(shortest.nanoseconds / 4, 1_000_000))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        livenessTimer = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = loopBound.value
            handler.checkLiveness(context: context)
        }
    }

    private func checkLiveness(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if let idle = liveness.idleTimeout, now - lastRead > idle {
            logger.info("closing idle peer connection", metadata: ["peer": "\(label)"])
            context.close(promise: nil)
            return
        }
        if let keepAlive = liveness.keepAlive, now - lastWrite >= keepAlive, let bytes = try? session.keepAlive() {
            lastWrite = now
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        do {
            handle(try session.start(), context: context)
        } catch {
            fail(context: context, error)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        var buffer = unwrapInboundIn(data)
        guard let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
        do {
            handle(try session.receive(bytes), context: context)
        } catch {
            fail(context: context, error)
        }
    }

    private func handle(_ events: [SecretStreamSession.Event], context: ChannelHandlerContext) {
        for event in events {
            switch event {
            case .write(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .established(let remote, let hash):
                let (stream, continuation) = AsyncStream<PeerEvent>.makeStream()
                self.continuation = continuation
                let connection = SwarmConnection(
                    remotePublicKey: remote, handshakeHash: hash, isInitiator: session.isInitiator, label: label,
                    events: stream, channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
                settled = true
                established.succeed(connection)
                startLiveness(context: context)
            case .message(let frame):
                do {
                    for event in try mux.receive(frame) {
                        switch event {
                        case .opened(let name, let id, let handshake):
                            continuation?.yield(.opened(protocol: name, id: id, handshake: handshake))
                        case .message(let name, let id, let type, let message):
                            continuation?.yield(.message(protocol: name, id: id, type: type, message: message))
                        case .closed(let name, let id):
                            continuation?.yield(.closed(protocol: name, id: id))
                        }
                    }
                } catch {
                    fail(context: context, error)
                }
            }
        }
    }

    /// Encrypts and writes the frame `build` produces (if any).
    func sendFrame(_ build: (inout ProtomuxSession) -> [UInt8]?) {
        guard let context, let frame = build(&mux) else { return }
        do {
            let bytes = try session.send(frame)
            lastWrite = .now()
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        } catch {
            fail(context: context, error)
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        logger.warning("closing peer connection", metadata: ["peer": "\(label)", "error": "\(error)"])
        settle(error)
        context.close(promise: nil)
    }

    private func settle(_ error: any Error) {
        guard !settled else { return }
        settled = true
        established.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        livenessTimer?.cancel()
        livenessTimer = nil
        settle(SwarmConnectionError.closedDuringHandshake)
        continuation?.yield(.disconnected)
        continuation?.finish()
        continuation = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Transport errors (a reset by the peer, mostly) are ordinary ends of a connection, not misbehaviour.
        logger.debug("peer connection error", metadata: ["peer": "\(label)", "error": "\(error)"])
        settle(error)
        context.close(promise: nil)
    }
}

public enum SwarmConnectionError: Error, Equatable, Sendable {
    case closedDuringHandshake
    case handshakeTimedOut
    case unexpectedRemoteKey
}

/// Accepts and dials secret-stream connections over TCP.
public final class SwarmTransport: Sendable {
    let group: MultiThreadedEventLoopGroup
    let keyPair: Ed25519.KeyPair
    let logger: Logger
    let handshakeTimeout: TimeAmount
    let liveness: SwarmConnectionHandler.Liveness

    /// - Parameters:
    ///   - keepAlive: send an empty frame after this long without writes (HyperDHT uses 5 s); nil disables.
    ///   - idleTimeout: close a connection that received nothing for this long; nil disables.
    public init(
        keyPair: Ed25519.KeyPair, handshakeTimeout: TimeAmount = .seconds(10), keepAlive: TimeAmount? = .seconds(5),
        idleTimeout: TimeAmount? = .seconds(20), logger: Logger = Logger(label: "pearircd.swarm")
    ) {
        self.keyPair = keyPair
        self.logger = logger
        self.handshakeTimeout = handshakeTimeout
        liveness = .init(keepAlive: keepAlive, idleTimeout: idleTimeout)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Listens on `host:port`; every connection that completes its handshake is handed to `onConnection`.
    /// Returns the bound port.
    public func listen(host: String, port: Int, onConnection: @escaping @Sendable (SwarmConnection) -> Void) async throws -> (any Channel, Int) {
        let keyPair = self.keyPair, logger = self.logger, timeout = handshakeTimeout, liveness = self.liveness
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let promise = channel.eventLoop.makePromise(of: SwarmConnection.self)
                    let session = try SecretStreamSession(isInitiator: false, staticKeyPair: keyPair)
                    let label = "\(channel.remoteAddress.map { "\($0)" } ?? "?")"
                    try channel.pipeline.syncOperations.addHandler(
                        SwarmConnectionHandler(
                            session: session, established: promise, label: label, logger: logger, liveness: liveness))
                    // Closing settles the promise (as closedDuringHandshake) through the handler.
                    let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                    promise.futureResult.whenComplete { result in
                        timer.cancel()
                        if case .success(let connection) = result { onConnection(connection) }
                    }
                }
            }
            .bind(host: host, port: port).get()
        return (channel, channel.localAddress?.port ?? port)
    }

    /// Dials `host:port` and completes the handshake. With `expectedRemoteKey`, a peer proving another identity
    /// is refused (the connection is closed and `SwarmConnectionError.unexpectedRemoteKey` thrown).
    public func connect(host: String, port: Int, expectedRemoteKey: [UInt8]? = nil) async throws -> SwarmConnection {
        let keyPair = self.keyPair, logger = self.logger, timeout = handshakeTimeout, liveness = self.liveness
        let promiseBox = Mutex<EventLoopPromise<SwarmConnection>?>(nil)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let promise = channel.eventLoop.makePromise(of: SwarmConnection.self)
                    promiseBox.withLock { $0 = promise }
                    let session = try SecretStreamSession(isInitiator: true, staticKeyPair: keyPair)
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
        let connection = try await promise.futureResult.get()
        if let expectedRemoteKey, !ConstantTime.equals(expectedRemoteKey, connection.remotePublicKey) {
            connection.disconnect()
            throw SwarmConnectionError.unexpectedRemoteKey
        }
        return connection
    }

    public func shutdown() async throws {
        try await group.shutdownGracefully()
    }
}
