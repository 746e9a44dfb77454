import NIOCore
import NIOPosix

/// A UDP relay that delays every datagram by a fixed time each way (and by up to `jitter` more, which reorders):
/// the "link" of the lossy-path tests, since the kernel here has no netem. It knows its two ends; a datagram from
/// one goes to the other.
public final class UDPDelayRelay: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let delay: TimeAmount
    private let jitter: TimeAmount
    public var ends: (SocketAddress, SocketAddress)?
    public private(set) var forwarded = 0

    init(delay: TimeAmount, jitter: TimeAmount = .zero) {
        self.delay = delay
        self.jitter = jitter
    }

    public static func start(on loop: any EventLoop, delay: TimeAmount, jitter: TimeAmount = .zero) async throws -> (
        UDPDelayRelay, any Channel
    ) {
        let relay = UDPDelayRelay(delay: delay, jitter: jitter)
        let channel = try await loop.flatSubmit {
            DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(relay) }
                }
                .bind(host: "127.0.0.1", port: 0)
        }.get()
        return (relay, channel)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let (a, b) = ends else { return }
        let target = envelope.remoteAddress == a ? b : a
        var wait = delay
        if jitter.nanoseconds > 0 { wait = wait + .nanoseconds(Int64.random(in: 0...jitter.nanoseconds)) }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        forwarded += 1
        context.eventLoop.scheduleTask(in: wait) {
            let context = bound.value
            context.writeAndFlush(
                NIOAny(AddressedEnvelope(remoteAddress: target, data: envelope.data)), promise: nil)
        }
    }
}
