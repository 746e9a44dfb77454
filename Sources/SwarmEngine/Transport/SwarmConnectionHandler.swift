import Logging
import NIOCore
import Sodium

/// Runs secret-stream and protomux over one NIO channel. Lives on the channel's event loop; the connection object
/// reaches it only through `NIOLoopBound`. It only feeds bytes to the two protocol state machines and what happens to
/// the channel to `ConnectionLifecycle`, and carries out what they return. It holds back socket reads while the
/// consumer of `events` lags (see `PeerEventQueue`).
final class SwarmConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Liveness and flow settings: an empty frame goes out after `keepAlive` without writes, a connection that
    /// receives nothing for `idleTimeout` is closed (as secret-stream's keepAlive and setTimeout do), and one whose
    /// peer leaves more than `maximumQueuedBytes` unread is closed rather than buffered without bound. Senders that
    /// await `writable()` park above `writeHighWatermark` unwritten bytes and resume below `writeLowWatermark`, so
    /// they never get near that limit.
    struct Liveness: Sendable {
        var keepAlive: TimeAmount?
        var idleTimeout: TimeAmount?
        var maximumQueuedBytes = 64 * 1024 * 1024
        var writeHighWatermark = 1024 * 1024
        var writeLowWatermark = 256 * 1024
        /// Stop reading once this many bytes of received events wait for the consumer; resume below the low mark.
        var eventHighWatermark = 4 * 1024 * 1024
        var eventLowWatermark = 1024 * 1024
    }

    private var session: SecretStreamSession
    private var mux: ProtomuxSession
    private var context: ChannelHandlerContext?
    private var queue: PeerEventQueue?
    private var reads = ReadHold.reading
    private let established: EventLoopPromise<SwarmConnection>
    /// Handshake, open, ending, closed: when `established` is settled and when the connection ends or closes.
    private var lifecycle = ConnectionLifecycle()
    private let logger: Logger
    private let label: String
    private let liveness: Liveness
    let closeReason = CloseReason()
    private var lastWrite = NIODeadline.now()
    private var lastRead = NIODeadline.now()
    private var livenessTimer: RepeatedTask?
    /// Bytes handed to the channel whose writes have not completed yet.
    private var queuedBytes = 0
    let writeGauge = WriteQueueGauge()
    private var writableWaiters: [CheckedContinuation<Void, Never>] = []

    /// Whether socket reads are held back for a consumer that lags behind `events`.
    private enum ReadHold {
        case reading
        /// Not reading; `readRequested`: NIO asked for a read meanwhile, which is replayed when reading resumes.
        case held(readRequested: Bool)
    }

    init(
        session: SecretStreamSession, established: EventLoopPromise<SwarmConnection>, label: String, logger: Logger,
        liveness: Liveness = Liveness()
    ) {
        self.session = session
        // Batches must fit one secret-stream frame, or our own peer would refuse them.
        mux = ProtomuxSession(maximumBatchSize: session.maximumFrameLength - SecretStreamParameters.overhead)
        self.established = established
        self.label = label
        self.logger = logger
        self.liveness = liveness
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        do {
            handle(try session.start(), context: context)
        } catch {
            fail(context: context, .secretStream(error))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        let buffer = unwrapInboundIn(data)
        // Read the bytes in place: the session copies what it keeps.
        let received = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(SecretStreamError) in try session.receive(bytes) }
        }
        switch received {
        case .success(let events): handle(events, context: context)
        case .failure(let error): fail(context: context, .secretStream(error))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(lifecycle.channelInactive(), context: context)
        livenessTimer?.cancel()
        livenessTimer = nil
        endTimer?.cancel()
        endTimer = nil
        releaseWriters()
        _ = queue?.yield(.disconnected)
        queue?.finish()
        queue = nil
        context.fireChannelInactive()
    }

    /// The peer's EOF (the channel allows half-closure): a clean end is answered by ending ours once what we already
    /// sent is written, as the reference's protomux answers `end` with `end`; an EOF mid-frame is an error.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent, !lifecycle.hasPeerEnded {
            do {
                try session.receiveEnd()
                closeReason.recordCleanEndByPeer()
                run(lifecycle.peerEnded(isCorked: mux.isCorked, writesPending: queuedBytes > 0), context: context)
            } catch {
                fail(context: context, .secretStream(error))
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Transport errors (a reset by the peer, mostly) are ordinary ends of a connection, not misbehaviour.
        logger.debug("peer connection error", metadata: ["peer": "\(label)", "error": "\(error)"])
        run(lifecycle.closeRequested(), context: context, error: error)
    }

    // MARK: - Secret-stream and protomux

    private func handle(_ events: [SecretStreamSession.Event], context: ChannelHandlerContext) {
        for event in events {
            switch event {
            case .write(let bytes):
                write(bytes, context: context)
            case .established(let remote, let hash):
                guard lifecycle.established() else { continue }
                let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                let queue = PeerEventQueue(
                    highWatermark: liveness.eventHighWatermark, lowWatermark: liveness.eventLowWatermark,
                    resumeReading: { eventLoop.execute { loopBound.value.resumeReading() } })
                self.queue = queue
                let connection = SwarmConnection(
                    remotePublicKey: remote, handshakeHash: hash, isInitiator: session.isInitiator, label: label,
                    queue: queue, channel: context.channel, handler: loopBound, closeReason: closeReason,
                    writeGauge: writeGauge)
                established.succeed(connection)
                startLiveness(context: context)
            case .message(let frame):
                do {
                    deliver(try mux.receive(frame), fromLocalCall: false, context: context)
                } catch {
                    fail(context: context, .protomux(error))
                    return
                }
            }
        }
    }

    /// Runs one local protomux operation and carries out its outputs. Local mistakes (opening a channel twice,
    /// sending on one that is closed) are the caller's, not the peer's: they are logged, not fatal.
    func perform(_ operation: (inout ProtomuxSession) throws(ProtomuxError) -> [ProtomuxSession.Output]) {
        guard let context, !session.isFailed, lifecycle.acceptsLocalOperations else { return }
        do {
            deliver(try operation(&mux), fromLocalCall: true, context: context)
        } catch {
            logger.debug("protomux call refused", metadata: ["peer": "\(label)", "error": "\(error)"])
        }
        // An `end()` made while corked takes effect here.
        if !mux.isCorked { run(lifecycle.uncorked(writesPending: queuedBytes > 0), context: context) }
    }

    private func deliver(_ outputs: [ProtomuxSession.Output], fromLocalCall: Bool, context: ChannelHandlerContext) {
        for output in outputs {
            switch output {
            case .write(let frame):
                do throws(SecretStreamError) {
                    write(try session.send(frame), context: context)
                } catch .messageTooLarge(let size) where fromLocalCall {
                    // Our caller's mistake, not the peer's: refused, and the connection stays up.
                    logger.warning("message too large for one frame, not sent", metadata: ["peer": "\(label)", "bytes": "\(size)"])
                } catch {
                    fail(context: context, .secretStream(error))
                    return
                }
            case .event(let event):
                guard let peerEvent = Self.peerEvent(event, fromLocalCall: fromLocalCall) else { continue }
                if queue?.yield(peerEvent) == true, case .reading = reads { reads = .held(readRequested: false) }
            }
        }
    }

    /// `PeerMux` reports the peer's open once: when it arrives, whether or not we have opened the channel. So the
    /// `opened` a local `open` produces by pairing with a pending open is not reported again.
    static func peerEvent(_ event: ProtomuxSession.Event, fromLocalCall: Bool) -> PeerEvent? {
        switch event {
        case .openRequested(let name, let id, let handshake):
            .opened(protocol: name, id: id, handshake: handshake)
        case .opened(let name, let id, let handshake):
            fromLocalCall ? nil : .opened(protocol: name, id: id, handshake: handshake)
        case .message(let name, let id, let type, let message):
            .message(protocol: name, id: id, type: type, message: message)
        case .closed(let name, let id), .rejected(let name, let id):
            .closed(protocol: name, id: id)
        }
    }

    /// A clean end: what was already sent still goes out, then the connection closes (the peer sees the stream end
    /// between frames, which it treats as clean). Calls after this send nothing.
    func end() {
        guard let context else { return }
        run(lifecycle.endRequested(isCorked: mux.isCorked, writesPending: queuedBytes > 0), context: context)
    }

    /// How long, after our end, we wait for our writes to drain and the peer's end before closing anyway.
    static let endTimeout = TimeAmount.seconds(10)
    private var endTimer: Scheduled<Void>?

    private func armEndTimeout(context: ChannelHandlerContext) {
        guard endTimer == nil else { return }
        let channel = context.channel
        endTimer = context.eventLoop.scheduleTask(in: Self.endTimeout) { channel.close(promise: nil) }
    }

    /// Carries out what the lifecycle decided. `error` is what fails `established`, if it is still pending.
    private func run(_ actions: [ConnectionLifecycle.Action], context: ChannelHandlerContext, error: (any Error)? = nil) {
        for action in actions {
            switch action {
            case .failEstablishment:
                established.fail(error ?? SwarmConnectionError.closedDuringHandshake)
            case .stopLiveness:
                livenessTimer?.cancel()
                livenessTimer = nil
                // Our end has begun: from now the connection closes within `endTimeout` whatever happens, even if a
                // peer that stopped reading never lets our queued writes drain.
                armEndTimeout(context: context)
            case .closeOutput:
                // The clean end's last step, a half-close (see `ConnectionLifecycle`): FIN, and reading on until
                // the peer ends too, or until `endTimeout`.
                context.close(mode: .output, promise: nil)
                armEndTimeout(context: context)
            case .close:
                context.close(promise: nil)
            case .judgePeerEnd:
                // The peer went away unseen: between frames after the handshake is a clean end, anything else an
                // error.
                do {
                    try session.receiveEnd()
                } catch {
                    closeReason.record(.secretStream(error))
                }
            }
        }
    }

    /// Resumes `continuation` once a sender may write more: at once while the queue is below the high watermark
    /// (or the connection is gone), otherwise when it has drained below the low watermark.
    func whenWritable(_ continuation: CheckedContinuation<Void, Never>) {
        guard !lifecycle.isClosed, queuedBytes > liveness.writeHighWatermark else {
            continuation.resume()
            return
        }
        writableWaiters.append(continuation)
        writeGauge.parkedWriters.add(1, ordering: .relaxed)
    }

    private func releaseWriters() {
        guard !writableWaiters.isEmpty else { return }
        let waiters = writableWaiters
        writableWaiters = []
        writeGauge.parkedWriters.subtract(waiters.count, ordering: .relaxed)
        for waiter in waiters { waiter.resume() }
    }

    // MARK: - Reading on demand

    /// Reads are held back while the consumer lags; one pending read is replayed when it catches up.
    func read(context: ChannelHandlerContext) {
        switch reads {
        case .reading: context.read()
        case .held: reads = .held(readRequested: true)
        }
    }

    private func resumeReading() {
        guard case .held(let readRequested) = reads, let context else { return }
        reads = .reading
        // Time spent not reading on purpose is not the peer's silence.
        lastRead = .now()
        if readRequested { context.read() }
    }

    // MARK: - Writing, liveness, failure

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        lastWrite = .now()
        queuedBytes += bytes.count
        writeGauge.unwrittenBytes.store(queuedBytes, ordering: .relaxed)
        guard queuedBytes <= liveness.maximumQueuedBytes else {
            fail(context: context, .writeQueueExceeded(queuedBytes))
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let count = bytes.count
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let handler = loopBound.value
            handler.queuedBytes -= count
            handler.writeGauge.unwrittenBytes.store(handler.queuedBytes, ordering: .relaxed)
            if handler.queuedBytes <= handler.liveness.writeLowWatermark { handler.releaseWriters() }
            if handler.queuedBytes == 0, let context = handler.context {
                handler.run(handler.lifecycle.writesDrained(), context: context)
            }
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: promise)
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
        if let idle = liveness.idleTimeout, case .reading = reads, now - lastRead > idle {
            logger.info("closing idle peer connection", metadata: ["peer": "\(label)"])
            closeReason.record(.idleTimeout)
            run(lifecycle.closeRequested(), context: context, error: SwarmConnectionError.idleTimeout)
            return
        }
        if let keepAlive = liveness.keepAlive, now - lastWrite >= keepAlive, let bytes = try? session.keepAlive() {
            write(bytes, context: context)
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: SwarmConnectionError) {
        // A failed handshake is a stranger's doing, common and cheap to cause: counted by the listener and logged at a
        // rate there (`InboundPeerAdmission`), not one warning each.
        if lifecycle.state == .handshaking {
            SwarmMetrics.handshakeFailures.increment()
            logger.debug("peer handshake failed", metadata: ["peer": "\(label)", "error": "\(error)"])
        } else {
            logger.warning("closing peer connection", metadata: ["peer": "\(label)", "error": "\(error)"])
        }
        closeReason.record(error)
        // A dialler refused for the wrong key hears it as such, not as a secret-stream failure.
        let settlement: SwarmConnectionError =
            if case .secretStream(.unexpectedRemoteKey) = error { .unexpectedRemoteKey } else { error }
        run(lifecycle.closeRequested(), context: context, error: settlement)
    }
}
