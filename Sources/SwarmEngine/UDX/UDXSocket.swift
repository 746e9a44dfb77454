import NIOCore

/// One UDP socket of a `UDXNode`. A datagram that is a packet of one of the node's streams goes to that stream;
/// anything else (dht-rpc messages, the one-byte hole-punch probe, packets for streams that do not exist) goes to
/// `onMessage`, as libudx hands such datagrams to the socket's `on_recv`.
public final class UDXSocket: @unchecked Sendable {
    /// libudx's `UDX_SOCKET_PACKET_BUFFER_SIZE`: a datagram longer than this is cut (and then not a valid packet).
    static let receiveBufferSize = 2048
    static let datagramsPerRead = 32

    public struct Counters: Sendable, Equatable {
        public var datagramsReceived = 0
        public var datagramsSent = 0
        /// Datagrams that were not for a live stream, with no `onMessage` to take them.
        public var unrouted = 0
        /// Packets for a stream that its firewall refused.
        public var firewalled = 0
    }

    /// The node owns its sockets (`UDXNode.close()` closes them); the reference back is what routes packets.
    public let node: UDXNode
    let channel: any Channel
    public private(set) var counters = Counters()
    /// Datagrams that are not packets of a live stream, with their sender. Runs on the node's event loop.
    public var onMessage: ((ByteBuffer, SocketAddress) -> Void)?
    private var flushScheduled = false

    init(node: UDXNode, channel: any Channel) {
        self.node = node
        self.channel = channel
    }

    public var localAddress: SocketAddress? { channel.localAddress }
    public var port: Int? { channel.localAddress?.port }

    /// Sends a datagram (not of a stream: a DHT message, a hole-punch probe).
    public func send(_ bytes: ByteBuffer, to address: SocketAddress) {
        node.eventLoop.preconditionInEventLoop()
        write(bytes, to: address)
        scheduleFlush()
    }

    public func close() -> EventLoopFuture<Void> {
        node.eventLoop.preconditionInEventLoop()
        node.remove(self)
        return channel.close()
    }

    /// Queues a datagram; the flush at the end of this loop tick sends every datagram queued in it in one go
    /// (NIO writes them with `sendmmsg`).
    func write(_ bytes: ByteBuffer, to address: SocketAddress) {
        counters.datagramsSent += 1
        channel.write(AddressedEnvelope(remoteAddress: address, data: bytes), promise: nil)
    }

    func write(_ bytes: [UInt8], to address: SocketAddress) {
        write(channel.allocator.buffer(bytes: bytes), to: address)
    }

    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        node.eventLoop.execute { [self] in
            flushScheduled = false
            channel.flush()
        }
    }

    func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        counters.datagramsReceived += 1
        let buffer = envelope.data
        if let stream = Self.streamID(of: buffer).flatMap(node.stream(id:)),
            stream.receive(buffer, from: envelope.remoteAddress, on: self)
        {
            return
        }
        if let onMessage {
            onMessage(buffer, envelope.remoteAddress)
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
