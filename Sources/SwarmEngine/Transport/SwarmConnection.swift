import NIOCore
import Synchronization

/// An encrypted, authenticated connection to another peer over TCP: secret-stream (Noise XX) with protomux on top,
/// as `@hyperswarm/secret-stream` 6.9 + `protomux` 3.10 run over any duplex stream. Presented to the layers above
/// as a `PeerMux`; everything it receives arrives on `events`, which ends with `.disconnected`.
public final class SwarmConnection: PeerConnection {
    public let remotePublicKey: [UInt8]
    public let handshakeHash: [UInt8]
    public let isInitiator: Bool
    public let label: String
    public let events: AsyncStream<PeerEvent>
    let queue: PeerEventQueue
    let channel: any Channel
    let handler: NIOLoopBound<SwarmConnectionHandler>
    let closeReason: CloseReason
    let writeGauge: WriteQueueGauge
    /// secret-stream's unordered datagrams, when the connection runs over UDX (nil over TCP, as in the reference).
    let datagramEndpoint: UDXSecretDatagrams?

    init(
        remotePublicKey: [UInt8], handshakeHash: [UInt8], isInitiator: Bool, label: String, queue: PeerEventQueue,
        channel: any Channel, handler: NIOLoopBound<SwarmConnectionHandler>, closeReason: CloseReason,
        writeGauge: WriteQueueGauge
    ) {
        self.remotePublicKey = remotePublicKey
        self.handshakeHash = handshakeHash
        self.isInitiator = isInitiator
        self.label = label
        self.queue = queue
        events = queue.events
        self.channel = channel
        self.handler = handler
        self.closeReason = closeReason
        self.writeGauge = writeGauge
        // Made here, on the loop, as the handshake completes: a datagram that arrives later opens with these keys.
        if let udx = channel as? UDXStreamChannel {
            let endpoint = UDXSecretDatagrams(stream: udx.stream, isInitiator: isInitiator, handshakeHash: handshakeHash)
            channel.closeFuture.whenComplete { _ in endpoint.finish() }
            datagramEndpoint = endpoint
        } else {
            datagramEndpoint = nil
        }
    }

    /// Unordered, unreliable datagrams from the peer (secret-stream's `'message'`), each sealed for this connection
    /// alone; forged ones are dropped. Over TCP there are none and this ends at once. At most 256 wait unread (the
    /// oldest are dropped beyond that); ends when the connection closes.
    public var datagrams: AsyncStream<[UInt8]> {
        datagramEndpoint?.received ?? AsyncStream { $0.finish() }
    }

    /// The largest datagram `send(datagram:)` takes (one UDX packet less secret-stream's 24 bytes), nil over TCP.
    public var maximumDatagramSize: Int? { datagramEndpoint?.maximumMessage }

    /// Datagrams dropped on the way in: failed to open, or pushed out by newer ones while unread.
    public var droppedDatagrams: Int { datagramEndpoint?.dropped ?? 0 }

    /// Sends one unordered datagram (secret-stream's `send` over a UDX MESSAGE packet): it arrives at most once, maybe
    /// not at all, in any order relative to other datagrams and to the channels' messages.
    public func send(datagram: [UInt8]) throws(SwarmDatagramError) {
        guard let datagramEndpoint else { throw .unsupported }
        guard datagram.count <= datagramEndpoint.maximumMessage else {
            throw .tooLarge(size: datagram.count, limit: datagramEndpoint.maximumMessage)
        }
        datagramEndpoint.send(datagram)
    }

    private func onLoop(_ body: @escaping @Sendable (SwarmConnectionHandler) -> Void) {
        let handler = self.handler
        // A closed connection takes no more work: its event loop may already be shut down.
        guard channel.isActive else { return }
        channel.eventLoop.execute { body(handler.value) }
    }

    public func open(protocol name: String, id: [UInt8], handshake: [UInt8]) {
        onLoop { $0.perform { mux throws(ProtomuxError) in try mux.open(protocol: name, id: id, handshake: handshake) } }
    }

    public func send(protocol name: String, id: [UInt8], type: UInt64, message: [UInt8]) {
        onLoop { $0.perform { mux throws(ProtomuxError) in try mux.send(protocol: name, id: id, type: type, message: message) } }
    }

    /// One hop to the event loop for all of them, written as protomux batch frames (the batch is split where it would
    /// outgrow a frame). A message the channel refuses (it closed meanwhile) ends the batch: the rest would be refused
    /// alike.
    public func send(protocol name: String, id: [UInt8], messages: [(type: UInt64, message: [UInt8])]) {
        guard messages.count > 1 else {
            if let (type, message) = messages.first { send(protocol: name, id: id, type: type, message: message) }
            return
        }
        onLoop {
            $0.perform { mux throws(ProtomuxError) in
                mux.cork()
                var outputs: [ProtomuxSession.Output] = []
                for (type, message) in messages {
                    guard let sent = try? mux.send(protocol: name, id: id, type: type, message: message) else { break }
                    outputs += sent
                }
                return outputs + mux.uncork()
            }
        }
    }

    public func close(protocol name: String, id: [UInt8]) {
        onLoop { $0.perform { mux throws(ProtomuxError) in try mux.close(protocol: name, id: id) } }
    }

    /// Refuses the peer's pending open for this channel (one it opened and we have not).
    public func reject(protocol name: String, id: [UInt8]) {
        onLoop { $0.perform { mux throws(ProtomuxError) in try mux.reject(protocol: name, id: id) } }
    }

    /// Runs `body` with the frames it sends collected into protomux batch frames.
    public func corked(_ body: @escaping @Sendable (SwarmConnection) -> Void) {
        onLoop { handler in
            handler.perform { mux throws(ProtomuxError) in
                mux.cork()
                return []
            }
        }
        body(self)
        onLoop { $0.perform { mux throws(ProtomuxError) in mux.uncork() } }
    }

    /// Waits until the connection can take more: returns at once while less than 1 MiB of what we sent is still
    /// unwritten, otherwise once the peer has read enough for it to drain below 256 KiB (or the connection closed).
    /// A bulk sender awaits this before each send, so a slow reader slows it down instead of filling memory.
    /// Sends that do not wait are queued all the same, up to the 64 MiB limit that closes the connection.
    public func writable() async {
        // A closed connection (its event loop may be gone too, and would drop the request) never blocks a sender.
        guard channel.isActive else { return }
        let handler = self.handler
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            channel.eventLoop.execute { handler.value.whenWritable(continuation) }
        }
    }

    /// Bytes we sent that the socket has not taken yet.
    public var unwrittenBytes: Int { writeGauge.unwrittenBytes.load(ordering: .relaxed) }

    /// How many senders are parked in `writable()` right now.
    public var parkedWriters: Int { writeGauge.parkedWriters.load(ordering: .relaxed) }

    /// Destroys the connection at once: frames not yet written to the socket are dropped. For a misbehaving peer.
    public func disconnect() {
        channel.close(promise: nil)
    }

    /// Ends the connection cleanly: everything already sent is written out first, then it closes. Nothing sent
    /// after this call goes out. The peer sees a clean end (`closeError` nil on both sides).
    public func end() {
        onLoop { $0.end() }
    }

    /// "TCP" or "UDX", with the smoothed round-trip time (the kernel's `tcpi_rtt`, or the UDX stream's).
    public func pathInfo() async -> PeerPathInfo {
        guard let udx = channel as? UDXStreamChannel else {
            #if os(Linux)
            // NIO's socket channels provide socket options (a documented dynamic cast).
            let info = try? await (channel as? any SocketOptionProvider)?.getTCPInfo().get()
            return PeerPathInfo(kind: "TCP", roundTripTime: info.flatMap { $0.tcpi_rtt > 0 ? .microseconds(Int64($0.tcpi_rtt)) : nil })
            #else
            return PeerPathInfo(kind: "TCP")
            #endif
        }
        let stream = udx.stream
        let rtt = try? await channel.eventLoop.submit { stream.smoothedRTT }.get()
        return PeerPathInfo(kind: "UDX", roundTripTime: rtt.flatMap { $0 > 0 ? .milliseconds(Int64($0)) : nil })
    }

    /// Returns once the connection is closed (by either side).
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// The same events in batches (everything that had arrived when the consumer asked). Consume either this or
    /// `events`, not both.
    public var eventBatches: PeerEventBatches { queue.batches }

    /// Bytes of received events not consumed from `events` yet. While above the high watermark (4 MiB), the
    /// connection stops reading from its socket, so a slow consumer slows the peer down instead of buffering.
    public var unconsumedEventBytes: Int { queue.bufferedBytes }

    /// Whether socket reads are held back right now because `events` is not being consumed fast enough.
    public var isHoldingBackReads: Bool { queue.isHoldingBack }

    /// Whether the peer ended the connection cleanly (sent its end after its last frame). A peer that was killed, reset
    /// the connection or timed out never did.
    public var peerEndedCleanly: Bool {
        closeReason.endedByPeer.withLock { $0 }
    }

    /// Why the connection ended, once it has: nil while open, and nil after a clean end by either side.
    public var closeError: SwarmConnectionError? {
        closeReason.error.withLock { $0 }
    }
}

/// Why `SwarmConnection.send(datagram:)` refused a datagram.
public enum SwarmDatagramError: Error, Equatable, Sendable {
    /// The connection runs over TCP, which has no datagrams (the reference sends none there either).
    case unsupported
    /// Larger than one UDX packet carries after secret-stream's counter and MAC.
    case tooLarge(size: Int, limit: Int)
}

/// Shared between a connection and its handler: the first error that ended the connection.
final class CloseReason: Sendable {
    let error = Mutex<SwarmConnectionError?>(nil)
    /// The peer ended its side cleanly (a FIN between frames), as opposed to vanishing or resetting the connection.
    let endedByPeer = Mutex(false)

    func recordCleanEndByPeer() {
        endedByPeer.withLock { $0 = true }
    }

    func record(_ error: SwarmConnectionError) {
        self.error.withLock { if $0 == nil { $0 = error } }
    }
}

/// Why a connection failed or ended.
public enum SwarmConnectionError: Error, Equatable, Sendable {
    /// The connection closed before the handshake finished (by the peer, or by `handshakeTimeout`).
    case closedDuringHandshake
    /// The peer proved an identity other than the one dialled.
    case unexpectedRemoteKey
    /// The peer broke secret-stream: a failed handshake, a forged, replayed or truncated frame, a bad length.
    case secretStream(SecretStreamError)
    /// The peer broke protomux.
    case protomux(ProtomuxError)
    /// Nothing arrived for longer than the idle timeout.
    case idleTimeout
    /// The peer did not read what we sent fast enough: more than the write limit was queued.
    case writeQueueExceeded(Int)
}
