import DequeModule
import NIOCore
import Synchronization

/// A UDX stream presented as a NIO `Channel`, so that what runs on a TCP connection runs on UDX unchanged: the
/// secret-stream + protomux handler (`SwarmConnectionHandler`) sits in this channel's pipeline exactly as in a TCP
/// channel's. Modelled on the child channels of swift-nio-ssh and swift-nio-http2 (a channel whose "socket" is a
/// stream inside another protocol).
///
/// Mapping: bytes written are the stream's writes (a write's promise completes once the stream's send buffer took
/// it; the channel is not writable while the stream's buffer is full); reads deliver the stream's bytes when the
/// pipeline asks (with `autoRead`, always), and the stream's receive window only opens once they were handed on, so
/// a reader that holds its reads holds the peer back; the peer's END is `ChannelEvent.inputClosed` (with
/// `allowRemoteHalfClosure`, else the channel closes); `close(mode: .output)` is END; a full close ends our side
/// too and lets the stream finish by itself (it still acks the peer); a reset or a timeout is an error, then the
/// channel goes inactive.
public final class UDXStreamChannel: Channel, ChannelCore, @unchecked Sendable {
    // Everything but the two atomics is confined to the event loop, as in NIO's own channels.
    public let stream: UDXStream
    public let allocator = ByteBufferAllocator()
    private var _pipeline: ChannelPipeline!
    private let closePromise: EventLoopPromise<Void>
    private let active = Atomic<Bool>(false)
    private let writable = Atomic<Bool>(true)
    private var autoRead = true
    private var allowRemoteHalfClosure = false
    private var readPending = false
    private var deliveryScheduled = false
    /// Bytes delivered and not yet handed to the pipeline: the stream's in-order payloads copied together once, so
    /// the pipeline gets one buffer per socket read and no datagram buffer of NIO's is kept alive by a slow reader.
    private var inbound = ByteBuffer()
    private var pendingWrites: Deque<(bytes: ByteBuffer, promise: EventLoopPromise<Void>?, flushed: Bool)> = []
    private var outputClosed = false
    private var closed = false

    public enum Failure: Error, Sendable, Equatable {
        /// The peer reset the stream.
        case reset
        /// The peer stopped acknowledging.
        case timedOut
    }

    /// Wraps a connected stream; `initializer` adds the handlers before the channel goes active.
    public static func make(
        stream: UDXStream, initializer: @escaping (UDXStreamChannel) throws -> Void
    ) -> EventLoopFuture<UDXStreamChannel> {
        let channel = UDXStreamChannel(stream: stream)
        return stream.node.eventLoop.makeCompletedFuture {
            channel.pipeline.fireChannelRegistered()
            try initializer(channel)
            channel.activate()
            return channel
        }
    }

    private init(stream: UDXStream) {
        self.stream = stream
        closePromise = stream.node.eventLoop.makePromise()
        _pipeline = ChannelPipeline(channel: self)
    }

    // MARK: - Channel

    public var eventLoop: any EventLoop { stream.node.eventLoop }
    public var pipeline: ChannelPipeline { _pipeline }
    public var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }
    public var localAddress: SocketAddress? { stream.socket?.localAddress }
    public var remoteAddress: SocketAddress? { stream.remoteAddress }
    public var parent: (any Channel)? { nil }
    public var isWritable: Bool { writable.load(ordering: .relaxed) }
    public var isActive: Bool { active.load(ordering: .relaxed) }
    public var _channelCore: any ChannelCore { self }

    public func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> EventLoopFuture<Void> {
        if eventLoop.inEventLoop {
            return eventLoop.makeCompletedFuture { try setOption0(option, value: value) }
        }
        return eventLoop.submit { try self.setOption0(option, value: value) }
    }

    public func getOption<Option: ChannelOption>(_ option: Option) -> EventLoopFuture<Option.Value> {
        if eventLoop.inEventLoop {
            return eventLoop.makeCompletedFuture { try getOption0(option) }
        }
        return eventLoop.submit { try self.getOption0(option) }
    }

    private func setOption0<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
        switch option {
        case is ChannelOptions.Types.AutoReadOption:
            autoRead = value as! Bool
            if autoRead { read0() }
        case is ChannelOptions.Types.AllowRemoteHalfClosureOption:
            allowRemoteHalfClosure = value as! Bool
        default:
            throw ChannelError.operationUnsupported
        }
    }

    private func getOption0<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
        switch option {
        case is ChannelOptions.Types.AutoReadOption: return autoRead as! Option.Value
        case is ChannelOptions.Types.AllowRemoteHalfClosureOption: return allowRemoteHalfClosure as! Option.Value
        default: throw ChannelError.operationUnsupported
        }
    }

    // MARK: - ChannelCore

    public func localAddress0() throws -> SocketAddress {
        guard let address = localAddress else { throw ChannelError.operationUnsupported }
        return address
    }

    public func remoteAddress0() throws -> SocketAddress {
        guard let address = remoteAddress else { throw ChannelError.operationUnsupported }
        return address
    }

    public func register0(promise: EventLoopPromise<Void>?) { promise?.succeed(()) }
    public func registerAlreadyConfigured0(promise: EventLoopPromise<Void>?) { promise?.succeed(()) }
    public func bind0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }
    public func connect0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    public func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closed, !outputClosed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let buffer = unwrapData(data, as: ByteBuffer.self)
        pendingWrites.append((buffer, promise, false))
        updateWritability()
    }

    public func flush0() {
        for index in pendingWrites.indices { pendingWrites[index].flushed = true }
        pushWrites()
    }

    public func read0() {
        readPending = true
        deliverReads()
    }

    public func close0(error: any Error, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard !closed else {
            promise?.fail(ChannelError.alreadyClosed)
            return
        }
        switch mode {
        case .output:
            flush0()
            outputClosed = true
            do {
                try stream.end()
                promise?.succeed(())
            } catch {
                promise?.fail(error)
            }
        case .input:
            promise?.fail(ChannelError.operationUnsupported)
        case .all:
            // Our END after whatever was flushed; the stream finishes by itself (or times out) once detached.
            flush0()
            if !outputClosed { try? stream.end() }
            tearDown(error: nil)
            promise?.succeed(())
        }
    }

    public func triggerUserOutboundEvent0(_ event: Any, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    public func channelRead0(_ data: NIOAny) {}
    public func errorCaught0(error: any Error) {}

    // MARK: - The stream's side

    private func activate() {
        stream.consumesOnDelivery = false
        stream.onData = { [weak self] bytes in
            guard let self else { return }
            inbound.writeImmutableBuffer(bytes)
            // The rest of this socket read (up to 32 datagrams) is likely for us too: hand it all on in one read.
            guard !deliveryScheduled else { return }
            deliveryScheduled = true
            eventLoop.execute { [self] in
                deliveryScheduled = false
                deliverReads()
            }
        }
        stream.onEnd = { [weak self] in
            guard let self, !closed else { return }
            deliverReads()
            if allowRemoteHalfClosure {
                pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            } else {
                close0(error: ChannelError.eof, mode: .all, promise: nil)
            }
        }
        stream.onWritable = { [weak self] in self?.pushWrites() }
        stream.onClose = { [weak self] reason in
            guard let self, !closed else { return }
            deliverReads()
            switch reason {
            case .finished, .destroyed: tearDown(error: nil)
            case .reset: tearDown(error: Failure.reset)
            case .timedOut: tearDown(error: Failure.timedOut)
            }
        }
        active.store(true, ordering: .relaxed)
        pipeline.fireChannelActive()
        if autoRead { pipeline.read() }
    }

    private func deliverReads() {
        guard readPending, inbound.readableBytes > 0, !closed else { return }
        readPending = false
        let count = inbound.readableBytes
        let buffer = inbound
        // A fresh buffer for the next reads: the pipeline may keep this one.
        inbound = allocator.buffer(capacity: 0)
        pipeline.fireChannelRead(buffer)
        if closed { return }
        pipeline.fireChannelReadComplete()
        // Handed on: the stream's receive window opens by as much.
        stream.consumed(count)
        if autoRead, !closed { pipeline.read() }
    }

    private func pushWrites() {
        while let first = pendingWrites.first, first.flushed, !closed {
            do {
                try stream.write(first.bytes)
            } catch .bufferFull {
                break
            } catch {
                for write in pendingWrites { write.promise?.fail(error) }
                pendingWrites.removeAll()
                break
            }
            pendingWrites.removeFirst()
            first.promise?.succeed(())
        }
        updateWritability()
    }

    private func updateWritability() {
        let now = pendingWrites.isEmpty && stream.isWritable
        if writable.exchange(now, ordering: .relaxed) != now, isActive {
            pipeline.fireChannelWritabilityChanged()
        }
    }

    private func tearDown(error: (any Error)?) {
        guard !closed else { return }
        closed = true
        stream.onData = nil
        stream.onEnd = nil
        stream.onWritable = nil
        stream.onClose = nil
        stream.consumesOnDelivery = true
        // Bytes we never handed on still count against the window: release them.
        stream.consumed(inbound.readableBytes)
        inbound.clear()
        for write in pendingWrites { write.promise?.fail(ChannelError.ioOnClosedChannel) }
        pendingWrites.removeAll()
        if let error { pipeline.fireErrorCaught(error) }
        active.store(false, ordering: .relaxed)
        pipeline.fireChannelInactive()
        pipeline.fireChannelUnregistered()
        eventLoop.execute { [self] in
            removeHandlers(pipeline: pipeline)
            closePromise.succeed(())
        }
    }
}
