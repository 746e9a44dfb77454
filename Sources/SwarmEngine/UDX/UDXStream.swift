import NIOCore

/// A UDX stream on a `UDXNode`: the thin shell around `UDXStreamState` that feeds it the packets its sockets route
/// here, sends the datagrams it returns, and runs its one timer on the node's event loop (libudx's `udx_stream_t`).
///
/// A stream is made with its local id, then connected to a socket, the remote's stream id and address (ids travel out
/// of band: in hyperdht's handshake, in blind-relay's pair message). Until then, and whenever a packet for it arrives
/// on another socket, `firewall` decides (libudx's `on_firewall`: return true to drop); hyperdht's firewall connects
/// the stream to the address the first packet came from. Bytes written in one loop tick go out together at its end,
/// as libudx defers a partial packet to its loop's prepare phase.
public final class UDXStream: @unchecked Sendable {
    /// How long a finished stream stays in the node's table to ack a peer's repeated END (our last ack may be lost):
    /// a little longer than the peer's seven retransmission timeouts at the minimum timeout.
    public static let lingerTime = TimeAmount.seconds(15)

    public let id: UInt32
    /// The node keeps the stream in its table while it lives (and lingers); `UDXNode.close()` destroys it.
    public let node: UDXNode
    public private(set) var socket: UDXSocket?
    public private(set) var remoteAddress: SocketAddress?
    private var state: UDXStreamState
    private var timer: Scheduled<Void>?
    private var timerDeadline: UInt64?
    private var flushScheduled = false
    private weak var relayTarget: UDXStream?
    /// Packets accepted by the firewall while unconnected (at most `maximumEarlyPackets`).
    private var earlyPackets: [(ByteBuffer, SocketAddress, UDXSocket)] = []
    static let maximumEarlyPackets = 16

    /// Decides about packets for this stream that arrive while it is unconnected or on another socket; true drops
    /// the packet. Without one, such packets are dropped while unconnected and taken once connected (as libudx).
    public var firewall: ((UDXSocket, SocketAddress) -> Bool)?
    /// Stream bytes, in order.
    public var onData: ((ByteBuffer) -> Void)? {
        didSet {
            // On the next turn of the loop: whoever set the reader finishes wiring the stream (`onEnd`, …) first.
            if !heldData.isEmpty || endHeld { node.eventLoop.execute { [weak self] in self?.deliverHeldData() } }
        }
    }
    /// Bytes that arrived before anyone read the stream (a connection's first packets can come before its reader
    /// is attached): held, unread, so the receive window bounds them, and handed over when `onData` is set.
    private var heldData: [ByteBuffer] = []
    private var endHeld = false
    /// Unordered datagrams (MESSAGE packets).
    public var onMessage: (([UInt8]) -> Void)?
    /// The peer ended its side.
    public var onEnd: (() -> Void)?
    /// The send buffer refused a write earlier and has room again.
    public var onWritable: (() -> Void)?
    /// A `changeRemote` took full effect (what was in flight on the old path is acknowledged).
    public var onRemoteChanged: (() -> Void)?
    /// Sees the socket and sender of each packet the stream accepts (hyperdht's relay→direct upgrade waits for the
    /// first packet on the direct path before letting the relay go).
    public var onPacket: ((UDXSocket, SocketAddress) -> Void)?
    /// The stream is over: `.finished` after both sides ended, else why it failed.
    public var onClose: ((UDXStreamState.CloseReason) -> Void)?
    /// Whether bytes count as read once `onData` has them (the receive window reopens at once). A reader that holds
    /// bytes of its own (`UDXStreamChannel` until its pipeline asks for them) turns this off and calls `consumed`.
    public var consumesOnDelivery = true

    init(node: UDXNode, id: UInt32, configuration: UDXStreamState.Configuration) {
        self.node = node
        self.id = id
        self.state = UDXStreamState(localID: id, remoteID: 0, configuration: configuration, now: UDXNode.now())
    }

    // MARK: - Queries (on the node's loop)

    public var isConnected: Bool { socket != nil }
    public var isClosed: Bool { state.isClosed }
    public var closeReason: UDXStreamState.CloseReason? { state.closeReason }
    public var remoteID: UInt32 { state.remoteID }
    public var isWritable: Bool { state.isWritable }
    public var counters: UDXStreamState.Counters { state.counters }
    public var bufferedSendBytes: Int { state.bufferedSendBytes }
    public var bufferedReceiveBytes: Int { state.bufferedReceiveBytes }
    public var smoothedRTT: UInt64 { state.smoothedRTT }
    /// The largest data payload and MESSAGE one packet carries.
    public var payloadSize: Int { state.payloadSize }

    // MARK: - Application calls (on the node's loop)

    /// Sends and receives through `socket` with the peer's stream `remoteID` at `address` (libudx's
    /// `udx_stream_connect`: nothing goes on the wire for it).
    public func connect(socket: UDXSocket, remoteID: UInt32, address: SocketAddress) throws(UDXError) {
        node.eventLoop.preconditionInEventLoop()
        guard !state.isClosed else { throw .closed(state.closeReason) }
        guard self.socket == nil else { throw .alreadyConnected }
        guard address.port != 0 else { throw .invalidAddress }
        self.socket = socket
        remoteAddress = address
        state.connect(remoteID: remoteID, now: UDXNode.now())
        // Packets the firewall let in before we knew where the peer was (its first packets can overtake the answer
        // that tells us), from where we now connected: taken now rather than left for the peer to resend.
        let early = earlyPackets
        earlyPackets = []
        for (buffer, from, on) in early where from == address && on === socket {
            guard let packet = try? UDXPacket(decoding: buffer) else { continue }
            perform(state.receive(packet, now: UDXNode.now()))
        }
        scheduleFlush()
    }

    /// Moves the stream to another socket, remote id and address (libudx's `udx_stream_change_remote`: a relayed
    /// connection switching to the direct path found by hole punching). What is in flight is retransmitted there if
    /// it is lost; `onRemoteChanged` runs once all of it is acknowledged.
    public func changeRemote(socket: UDXSocket, remoteID: UInt32, address: SocketAddress) throws(UDXError) {
        node.eventLoop.preconditionInEventLoop()
        guard !state.isClosed else { throw .closed(state.closeReason) }
        guard self.socket != nil else { throw .notConnected }
        guard address.port != 0 else { throw .invalidAddress }
        self.socket = socket
        remoteAddress = address
        perform(state.changeRemote(id: remoteID))
        scheduleFlush()
    }

    /// Forwards every packet that arrives for this stream, unread and unacked, to `target`'s remote (from `target`'s
    /// socket, with the id rewritten to `target`'s remote id): what a relay node does (libudx's
    /// `udx_stream_relay_to`). Pair two streams with each other to relay both ways.
    public func relay(to target: UDXStream) {
        node.eventLoop.preconditionInEventLoop()
        relayTarget = target
    }

    /// Asked before each relayed packet with its size; false drops it (a relay's bandwidth bound: the two ends'
    /// congestion control sees the loss and slows down).
    public var relayAllowance: ((Int) -> Bool)?

    public func write(_ bytes: [UInt8]) throws(UDXStreamState.WriteError) {
        try write(ByteBuffer(bytes: bytes))
    }

    /// Queues bytes to send (the packets' payloads are slices of `bytes`, not copies).
    public func write(_ bytes: ByteBuffer) throws(UDXStreamState.WriteError) {
        node.eventLoop.preconditionInEventLoop()
        try state.write(bytes)
        scheduleFlush()
    }

    /// Ends our side once everything written is out (a clean half-close; the stream finishes when the peer ends too).
    public func end() throws(UDXStreamState.WriteError) {
        node.eventLoop.preconditionInEventLoop()
        try state.end()
        scheduleFlush()
    }

    /// A HEARTBEAT every `milliseconds` while everything sent is acknowledged (0 stops them), as libudx's
    /// `udx_stream_set_keepalive`: keeps a NAT's mapping open on an idle stream.
    public func setKeepAlive(milliseconds: UInt64) {
        node.eventLoop.preconditionInEventLoop()
        state.setKeepAlive(milliseconds, now: UDXNode.now())
        perform([])
    }

    /// An unordered datagram on this stream.
    public func send(message: [UInt8]) throws(UDXError) {
        node.eventLoop.preconditionInEventLoop()
        guard isConnected else { throw .notConnected }
        do {
            perform(try state.send(message: message))
        } catch {
            throw .closed(state.closeReason)
        }
    }

    /// The reader has taken `count` delivered bytes (with `consumesOnDelivery` off): the window opens by as much.
    public func consumed(_ count: Int) {
        node.eventLoop.preconditionInEventLoop()
        guard count > 0, !state.isClosed else { return }
        perform(state.read(count))
    }

    /// Resets the stream (one DESTROY packet when connected) and closes it at once. A relay's stream sends none
    /// (as libudx): its remote's stream id belongs to the end it relays for, whose own stream must not be reset by
    /// the relay letting go.
    public func destroy() {
        node.eventLoop.preconditionInEventLoop()
        guard !state.isClosed else { return }
        guard relayTarget == nil else {
            relayTarget = nil
            perform(state.destroy().filter { if case .transmit = $0 { false } else { true } })
            return
        }
        // Unconnected, the DESTROY packet has nowhere to go: `perform` sends only with a socket and an address.
        perform(state.destroy())
    }

    // MARK: - From the sockets

    /// A datagram with this stream's id arrived on `socket` from `address`. Returns false when it should go to the
    /// socket's message handler instead (the stream is gone), as libudx's `process_packet` returns 0.
    func receive(_ buffer: ByteBuffer, from address: SocketAddress, on socket: UDXSocket) -> Bool {
        if state.isClosed && state.closeReason != .finished { return false }
        if socket !== self.socket {
            if let firewall {
                if firewall(socket, address) {
                    socket.firewalled()
                    return true
                }
            } else if self.socket == nil {
                socket.firewalled()
                return true
            }
            // The firewall may have connected the stream; a still unconnected one keeps what it let in (a few
            // packets) for when it connects.
            guard self.socket != nil else {
                if earlyPackets.count < Self.maximumEarlyPackets { earlyPackets.append((buffer, address, socket)) }
                return true
            }
        }
        // A relay's stream forwards once its firewall connected it to the peer it relays for (libudx checks the
        // socket first too).
        if let relayTarget {
            forward(buffer, to: relayTarget)
            return true
        }
        onPacket?(socket, address)
        guard let packet = try? UDXPacket(decoding: buffer) else { return true }
        perform(state.receive(packet, now: UDXNode.now()))
        return true
    }

    private func forward(_ buffer: ByteBuffer, to target: UDXStream) {
        guard let socket = target.socket, let address = target.remoteAddress,
            relayAllowance?(buffer.readableBytes) ?? true
        else { return }
        var copy = buffer
        copy.setInteger(target.remoteID, at: copy.readerIndex + 4, endianness: .little)
        socket.write(copy, to: address)
        socket.scheduleFlush()
        let flags = UDXPacket.Flags(rawValue: buffer.getInteger(at: buffer.readerIndex + 2, as: UInt8.self) ?? 0)
        if flags.contains(.destroy) {
            relayTarget = nil
            perform(state.destroy().filter { if case .transmit = $0 { false } else { true } })
        }
    }

    // MARK: - Carrying out the machine's actions

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        node.eventLoop.execute { [self] in
            flushScheduled = false
            guard isConnected, !state.isClosed else { return }
            perform(state.flush(now: UDXNode.now()))
        }
    }

    private func deliverHeldData() {
        while let onData, !heldData.isEmpty {
            let bytes = heldData.removeFirst()
            onData(bytes)
            if consumesOnDelivery, !state.isClosed { perform(state.read(bytes.readableBytes)) }
        }
        if onData != nil, heldData.isEmpty, endHeld {
            endHeld = false
            onEnd?()
        }
    }

    private func perform(_ actions: [UDXStreamState.Action]) {
        var transmitted = false
        for action in actions {
            switch action {
            case .transmit(let bytes):
                if let socket, let remoteAddress {
                    socket.write(bytes, to: remoteAddress)
                    transmitted = true
                }
            case .deliver(let bytes):
                guard let onData, heldData.isEmpty else {
                    heldData.append(bytes)
                    continue
                }
                onData(bytes)
                if consumesOnDelivery, !state.isClosed { perform(state.read(bytes.readableBytes)) }
            case .message(let bytes):
                onMessage?(bytes)
            case .remoteEnded:
                if heldData.isEmpty { onEnd?() } else { endHeld = true }
            case .writable:
                onWritable?()
            case .remoteChanged:
                onRemoteChanged?()
            case .closed(let reason):
                closed(reason)
            }
        }
        if transmitted { socket?.scheduleFlush() }
        rearmTimer()
    }

    private func closed(_ reason: UDXStreamState.CloseReason) {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        let node = self.node
        if reason == .finished {
            node.eventLoop.scheduleTask(in: Self.lingerTime) { [self] in node.remove(self) }
        } else {
            node.remove(self)
        }
        onClose?(reason)
    }

    private func rearmTimer() {
        let deadline = state.nextDeadline
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timer = nil
        timerDeadline = deadline
        guard let deadline else { return }
        let when = NIODeadline.uptimeNanoseconds(deadline * 1_000_000)
        timer = node.eventLoop.scheduleTask(deadline: when) { [self] in
            timer = nil
            timerDeadline = nil
            perform(state.timeout(now: max(deadline, UDXNode.now())))
        }
    }
}
