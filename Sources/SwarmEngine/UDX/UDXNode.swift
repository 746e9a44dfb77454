import NIOCore
import NIOPosix

/// A UDX instance as libudx has one (`udx_t`): the sockets of a node and the table of its streams, which is shared
/// across all of them, because a stream may move from socket to socket (hole punching opens several, and a stream
/// found through one continues on another) and a packet is routed by its stream id alone (`process_packet` looks the
/// id up in the instance's table, whatever socket it came in on).
///
/// Everything runs on one event loop: the node, its sockets and its streams are confined to `eventLoop`, and every
/// entry point checks it. That confinement, not a lock, is what makes sharing the references across tasks safe,
/// hence `@unchecked Sendable` (the way NIO's own channel handlers are shared with their pipeline's loop).
public final class UDXNode: @unchecked Sendable {
    public let eventLoop: any EventLoop
    private var streams: [UInt32: UDXStream] = [:]
    private var sockets: [ObjectIdentifier: UDXSocket] = [:]

    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Opens a UDP socket on `host:port` (port 0 picks one). IPv4, which is all the DHT carries.
    ///
    /// Where the kernel offers them (Linux), the socket uses UDP segmentation and receive offload (GSO and GRO, as
    /// QUIC stacks do): a train of a stream's packets to one address leaves in one system call, and arrives in one,
    /// each still its own datagram on the wire. `offload: false` turns them off (the benchmarks compare both).
    public func bind(host: String, port: Int, offload: Bool = true) -> EventLoopFuture<UDXSocket> {
        let node = self
        let segmentation = offload && System.supportsUDPSegmentationOffload
        let coalescing = offload && System.supportsUDPReceiveOffload
        let slot = coalescing ? UDXSocket.coalescedReceiveBufferSize : UDXSocket.receiveBufferSize
        let slots = coalescing ? UDXSocket.coalescedDatagramsPerRead : UDXSocket.datagramsPerRead
        var bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.maxMessagesPerRead, value: 8)
            // recvmmsg: up to 32 datagrams per system call (8 trains with GRO), each in its own slice of one buffer.
            .channelOption(.datagramVectorReadMessageCount, value: slots)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: slot * slots))
        if coalescing {
            bootstrap = bootstrap.channelOption(.datagramReceiveOffload, value: true)
                .channelOption(.datagramReceiveSegmentSize, value: true)
        }
        return bootstrap
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDXSocketHandler(node: node))
                }
            }
            .bind(host: host, port: port)
            .map { channel in
                let socket = UDXSocket(node: node, channel: channel, segmentationOffload: segmentation)
                node.sockets[ObjectIdentifier(channel)] = socket
                return socket
            }
    }

    /// A stream with the local id `id`, not yet connected: packets for it go to its firewall until `connect`.
    /// Ids must be unique among the node's live streams (hyperdht draws them at random).
    public func makeStream(id: UInt32, configuration: UDXStreamState.Configuration = .init()) throws -> UDXStream {
        eventLoop.preconditionInEventLoop()
        guard streams[id] == nil else { throw UDXError.streamIDInUse(id) }
        let stream = UDXStream(node: self, id: id, configuration: configuration)
        streams[id] = stream
        return stream
    }

    /// How many streams are in the table (live, or finished and lingering).
    public var streamCount: Int {
        eventLoop.preconditionInEventLoop()
        return streams.count
    }

    /// Destroys every stream (each sends its DESTROY) and closes every socket: what the owner of a node calls once
    /// it is done with it (the node, its sockets and streams refer to each other until then).
    public func close() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        for stream in Array(streams.values) { stream.destroy() }
        streams.removeAll()
        let closing = sockets.values.map { $0.channel.close() }
        sockets.removeAll()
        return EventLoopFuture.andAllComplete(closing, on: eventLoop)
    }

    func stream(id: UInt32) -> UDXStream? { streams[id] }

    /// The counters of a live stream, for diagnostics.
    public func streamCounters(id: UInt32) -> UDXStreamState.Counters? {
        eventLoop.preconditionInEventLoop()
        return streams[id]?.counters
    }

    func socket(for channel: any Channel) -> UDXSocket? { sockets[ObjectIdentifier(channel)] }

    func remove(_ stream: UDXStream) {
        if streams[stream.id] === stream { streams[stream.id] = nil }
    }

    func remove(_ socket: UDXSocket) {
        if sockets.removeValue(forKey: ObjectIdentifier(socket.channel)) != nil {
            closedSocketsSent += socket.counters.datagramsSent
        }
    }

    /// Datagrams sent by sockets already closed (hole punching's come and go).
    private var closedSocketsSent = 0

    /// Every datagram the node's sockets sent, closed ones included.
    public var datagramsSent: Int {
        eventLoop.preconditionInEventLoop()
        return closedSocketsSent + sockets.values.reduce(0) { $0 + $1.counters.datagramsSent }
    }

    /// The time the stream machines run on: whole milliseconds, as libuv's loop clock.
    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1_000_000 }
}

public enum UDXError: Error, Sendable, Equatable {
    case streamIDInUse(UInt32)
    /// The stream is not connected to a socket and remote yet.
    case notConnected
    case alreadyConnected
    /// Port 0 (libudx refuses it; a forged hole-punch reply could name it).
    case invalidAddress
    /// The stream ended, was destroyed or timed out.
    case closed(UDXStreamState.CloseReason?)
}
