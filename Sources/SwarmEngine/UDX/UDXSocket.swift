import NIOCore

#if canImport(Glibc)
import Glibc
private let IPPROTO_IP_TTL = Int32(IP_TTL)
#else
import Darwin
private let IPPROTO_IP_TTL = Int32(IP_TTL)
#endif

/// One UDP socket of a `UDXNode`. A datagram that is a packet of one of the node's streams goes to that stream;
/// anything else (dht-rpc messages, the one-byte hole-punch probe, packets for streams that do not exist) goes to
/// `onMessage`, as libudx hands such datagrams to the socket's `on_recv`.
public final class UDXSocket: @unchecked Sendable {
    /// libudx's `UDX_SOCKET_PACKET_BUFFER_SIZE`: a datagram longer than this is cut (and then not a valid packet).
    static let receiveBufferSize = 2048
    static let datagramsPerRead = 32
    /// With receive offload (GRO) a read may carry a train of datagrams of one sender coalesced by the kernel, up
    /// to 64 KiB: fewer, larger slots per `recvmmsg`.
    static let coalescedReceiveBufferSize = 65536
    static let coalescedDatagramsPerRead = 8
    /// The most datagrams one segmentation-offload (GSO) write carries: the kernel's `UDP_MAX_SEGMENTS` is 64, and the
    /// whole write must stay under 64 KiB.
    static let maximumSegmentsPerWrite = 64
    static let maximumBytesPerWrite = 65_000

    public struct Counters: Sendable, Equatable {
        public var datagramsReceived = 0
        public var datagramsSent = 0
        /// Datagrams that were not for a live stream, with no `onMessage` to take them.
        public var unrouted = 0
        /// Packets for a stream that its firewall refused.
        public var firewalled = 0
        /// System calls' worth of writes: a train of datagrams sent with segmentation offload counts once.
        public var writes = 0
    }

    /// The node owns its sockets (`UDXNode.close()` closes them); the reference back is what routes packets.
    public let node: UDXNode
    let channel: any Channel
    public private(set) var counters = Counters()
    /// Datagrams that are not packets of a live stream, with their sender. Runs on the node's event loop.
    public var onMessage: ((ByteBuffer, SocketAddress) -> Void)?
    private var flushScheduled = false
    /// Whether datagrams of equal size to one address go out as one write the kernel segments (UDP GSO): one
    /// system call and one pass through NIO's write path for up to 64 packets. Off where the kernel lacks it, and
    /// turned off for good if a device refuses such a write (each datagram of it is then sent again on its own).
    public private(set) var segmentationOffload: Bool
    /// Datagrams queued in this loop tick and not yet handed to the channel: a train of equal-sized ones to one
    /// address (the last may be shorter), written as one when the next one does not fit on it or at the flush.
    private var train: (address: SocketAddress, bytes: ByteBuffer, segmentSize: Int, segments: Int, closed: Bool)?

    init(node: UDXNode, channel: any Channel, segmentationOffload: Bool) {
        self.node = node
        self.channel = channel
        self.segmentationOffload = segmentationOffload
    }

    public var localAddress: SocketAddress? { channel.localAddress }
    public var port: Int? { channel.localAddress?.port }

    /// Sends a datagram (not of a stream: a DHT message, a hole-punch probe).
    public func send(_ bytes: ByteBuffer, to address: SocketAddress) {
        node.eventLoop.preconditionInEventLoop()
        write(bytes, to: address)
        scheduleFlush()
    }

    /// Sends a datagram at once with the IP time-to-live `timeToLive`, then restores the default (64, as libudx's
    /// `udx_socket_set_ttl`). Hole punching sends its first probe with a short life: it opens our NAT's mapping and
    /// dies on the way, before the other side's NAT could take it for an intruder. What is queued goes first, so
    /// order is kept; a datagram the kernel could not take at once leaves later with the default.
    public func send(_ bytes: ByteBuffer, to address: SocketAddress, timeToLive: Int) {
        node.eventLoop.preconditionInEventLoop()
        writeTrain()
        channel.flush()
        let option = ChannelOptions.Types.SocketOption.ipOption(.init(rawValue: IPPROTO_IP_TTL))
        try? channel.syncOptions?.setOption(option, value: SocketOptionValue(timeToLive))
        counters.datagramsSent += 1
        counters.writes += 1
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: bytes), promise: nil)
        try? channel.syncOptions?.setOption(option, value: SocketOptionValue(Self.defaultTimeToLive))
    }

    /// libudx's default time-to-live.
    public static let defaultTimeToLive = 64

    public func close() -> EventLoopFuture<Void> {
        node.eventLoop.preconditionInEventLoop()
        node.remove(self)
        return channel.close()
    }

    /// Queues a datagram; the flush at the end of this loop tick sends every datagram queued in it in one go
    /// (NIO writes them with `sendmmsg`; a train of equal-sized datagrams to one address as one segmented write).
    /// Order is kept: a datagram that does not join the current train sends the train first.
    func write(_ bytes: ByteBuffer, to address: SocketAddress) {
        counters.datagramsSent += 1
        guard segmentationOffload else {
            counters.writes += 1
            channel.write(AddressedEnvelope(remoteAddress: address, data: bytes), promise: nil)
            return
        }
        let size = bytes.readableBytes
        if var current = train {
            // An empty datagram cannot ride in a train (it would vanish in the concatenation).
            if !current.closed, size > 0, size <= current.segmentSize, current.segments < Self.maximumSegmentsPerWrite,
                current.bytes.readableBytes + size <= Self.maximumBytesPerWrite, current.address == address
            {
                train = nil
                if current.segments == 1 {
                    // Room for the whole train at once, instead of growing the first datagram's buffer step by step.
                    var whole = channel.allocator.buffer(capacity: Self.maximumBytesPerWrite)
                    whole.writeImmutableBuffer(current.bytes)
                    current.bytes = whole
                }
                current.bytes.writeImmutableBuffer(bytes)
                current.segments += 1
                // A shorter datagram can only be the train's last.
                current.closed = size < current.segmentSize
                train = current
                return
            }
            writeTrain()
        }
        train = (address, bytes, size, 1, false)
    }

    /// Hands the current train to the channel: as a plain datagram when it is one, else as one write that the
    /// kernel cuts at `segmentSize`.
    private func writeTrain() {
        guard let current = train else { return }
        train = nil
        counters.writes += 1
        guard current.segments > 1 else {
            channel.write(AddressedEnvelope(remoteAddress: current.address, data: current.bytes), promise: nil)
            return
        }
        let metadata = AddressedEnvelope<ByteBuffer>.Metadata(
            ecnState: .transportNotCapable, packetInfo: nil, segmentSize: current.segmentSize)
        let promise = node.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenFailure { [self] _ in
            // The kernel refused the segmented write (EMSGSIZE: the path's MTU is below a segment, which plain
            // datagrams survive by IP fragmentation): send these datagrams one by one and stop making trains.
            // (EIO, for an IPsec route, closes the channel in NIO: not handled here.)
            segmentationOffload = false
            var bytes = current.bytes
            while bytes.readableBytes > 0, let datagram = bytes.readSlice(length: min(current.segmentSize, bytes.readableBytes)) {
                counters.writes += 1
                channel.write(AddressedEnvelope(remoteAddress: current.address, data: datagram), promise: nil)
            }
            channel.flush()
        }
        channel.write(
            AddressedEnvelope(remoteAddress: current.address, data: current.bytes, metadata: metadata), promise: promise)
    }

    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        node.eventLoop.execute { [self] in
            flushScheduled = false
            writeTrain()
            channel.flush()
        }
    }

    /// One read: a datagram, or with receive offload a train of them from one sender, cut at the segment size the
    /// kernel reports.
    func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard let segmentSize = envelope.metadata?.segmentSize, segmentSize > 0,
            envelope.data.readableBytes > segmentSize
        else {
            received(envelope.data, from: envelope.remoteAddress)
            return
        }
        var train = envelope.data
        while train.readableBytes > 0, let datagram = train.readSlice(length: min(segmentSize, train.readableBytes)) {
            received(datagram, from: envelope.remoteAddress)
        }
    }

    private func received(_ buffer: ByteBuffer, from address: SocketAddress) {
        counters.datagramsReceived += 1
        if let stream = Self.streamID(of: buffer).flatMap(node.stream(id:)),
            stream.receive(buffer, from: address, on: self)
        {
            return
        }
        if let onMessage {
            onMessage(buffer, address)
        } else {
            counters.unrouted += 1
        }
    }

    func firewalled() { counters.firewalled += 1 }

    /// The stream id of a datagram that looks like a UDX packet (20 bytes or more, magic and version).
    private static func streamID(of buffer: ByteBuffer) -> UInt32? {
        guard buffer.readableBytes >= UDXPacket.headerSize,
            buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == UDXPacket.magic,
            buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == UDXPacket.version
        else { return nil }
        return buffer.getInteger(at: buffer.readerIndex + 4, endianness: .little, as: UInt32.self)
    }
}

/// The socket's channel handler: hands each datagram to its `UDXSocket`.
final class UDXSocketHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private weak var node: UDXNode?
    private var socket: UDXSocket?

    init(node: UDXNode) {
        self.node = node
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if socket == nil { socket = node?.socket(for: context.channel) }
        socket?.received(envelope)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP socket reports ICMP errors (port unreachable) as read errors: not fatal; the stream's own timeouts
        // decide whether a peer is gone.
    }
}
