import DequeModule
import NIOCore

/// One UDX stream as a pure state machine: packets, writes and timer expiries in, datagrams to send and bytes to
/// deliver out. No sockets and no clock: the shell passes the time (whole milliseconds, libuv's clock, which libudx's
/// timers use) and sends what the machine returns.
///
/// It follows libudx at the commit udx-native 1.20.7 pins (759bf76, src/udx.c): seqs count packets from 0; every
/// DATA or END packet is acked at once, with SACK blocks found as `send_ack` finds them; the retransmission timeout is
/// RFC 6298's with libudx's bounds (1 s to 30 s), re-armed at twice the timeout after it fires, and a packet that
/// times out a seventh time closes the stream (`UDX_MAX_RTO_TIMEOUTS`); losses are found with RACK (RFC 8985: a packet
/// sent before one that was acked, and older than the latest RTT plus a reordering window) and a tail-loss probe;
/// a zero receive window is probed with a data packet that ignores it, as 1.20.7 does. END is a half-close that takes
/// a seq and is retransmitted like data; DESTROY is a reset, never retransmitted; HEARTBEAT asks for an ack; MESSAGE
/// is an unordered datagram that takes no seq. The stream is finished once both sides' ENDs are acked.
///
/// Congestion control is libudx's BBR v1 (`UDXBBR`) with its token-bucket pacing (refilled every millisecond at the
/// pacing rate, 25 kB to start) and its delivery-rate samples (`UDXRateSample`); like libudx, a retransmission
/// timeout does not reset the window (BBR's packet conservation handles loss).
///
/// Where this differs from libudx, on purpose: retransmissions carry
/// the current ack and window, as libudx does since #309; buffers are bounded (see `UDXReceiveBuffer`, and
/// `Configuration.sendBufferLimit`); a sub-packet receive window counts as one packet rather than none (libudx would
/// stall until the window reaches a whole packet); a finished stream keeps acking what the peer sends again (its END,
/// when our last ack was lost), where libudx forgets the stream at once and leaves the peer to time out. Packets carry
/// libudx's base payload, 1,152 bytes, and probes from the peer are read (their padding sits in `dataOffset`): libudx
/// at this commit never sends one (docs/swarm-protocol.md, "MTU").
public struct UDXStreamState: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The most bytes received and not yet read (`UDX_DEFAULT_RWND_MAX`).
        public var receiveWindow = 4 * 1024 * 1024
        /// Stream bytes per packet.
        public var payloadSize = UDXPacket.basePayload
        /// The most bytes written and not yet acknowledged: a write beyond it is refused (back-pressure).
        public var sendBufferLimit = 4 * 1024 * 1024
        /// Once the unacknowledged bytes fall to this after the buffer refused a write, the stream says `writable`.
        public var sendBufferLowWater = 1024 * 1024
        /// While everything sent is acknowledged, a HEARTBEAT every this many milliseconds (libudx's
        /// `udx_stream_set_keepalive`: it keeps a NAT's mapping open on an idle stream; the peer acks it). 0, the
        /// default as in libudx and udx-native, sends none.
        public var keepAliveInterval: UInt64 = 0

        public init() {}
    }

    /// What the shell does, in order.
    public enum Action: Sendable, Equatable {
        /// Send this datagram to the stream's remote address.
        case transmit(ByteBuffer)
        /// Stream bytes, in order (for data that arrived in order, a view of the datagram, not a copy).
        case deliver(ByteBuffer)
        /// An unordered datagram the peer sent on this stream.
        case message([UInt8])
        /// The peer ended its side: every byte it wrote has been delivered.
        case remoteEnded
        /// The send buffer refused a write earlier and has room again.
        case writable
        /// A `changeRemote` took full effect: everything sent on the old path is acknowledged.
        case remoteChanged
        /// The stream is over; nothing more happens.
        case closed(CloseReason)
    }

    public enum CloseReason: Error, Sendable, Equatable {
        /// Both sides ended and everything was acknowledged.
        case finished
        /// The peer reset the stream (DESTROY).
        case reset
        /// A packet went unacknowledged through seven retransmission timeouts.
        case timedOut
        /// Destroyed here.
        case destroyed
    }

    public enum WriteError: Error, Sendable, Equatable {
        case ended
        case closed
        /// The send buffer has room for only `available` more bytes; wait for `writable`.
        case bufferFull(available: Int)
        /// A message larger than one packet's payload.
        case messageTooLarge(size: Int, limit: Int)
    }

    /// What the stream dropped or did, for tests and the operator (a misbehaving peer shows here, not in a crash).
    public struct Counters: Sendable, Equatable {
        public var packetsReceived = 0
        public var packetsSent = 0
        /// Stream bytes handed to the reader, in order.
        public var bytesDelivered = 0
        public var retransmissions = 0
        /// DATA or END already received.
        public var duplicates = 0
        /// DATA more than `UDXReceiveBuffer.maximumSpan` seqs ahead.
        public var beyondSpan = 0
        /// DATA that did not fit the receive window.
        public var windowFull = 0
        /// Acks for seqs never sent.
        public var invalidAcks = 0
        /// SACK blocks outside what is in flight.
        public var invalidSACKs = 0
        public var fastRecoveries = 0
        public var retransmissionTimeouts = 0
        public var lossProbes = 0
        public var zeroWindowProbes = 0
        public var heartbeatsSent = 0
    }

    /// A packet sent and not yet acknowledged.
    private struct OutgoingPacket: Sendable {
        var flags: UDXPacket.Flags
        /// A slice of what was written (no copy); the datagram is made at each transmission.
        var payload: ByteBuffer
        var sentAt: UInt64 = 0
        // The delivery state when it was sent, for the rate sample its ack gives.
        var firstSentAt: UInt64 = 0
        var deliveredAt: UInt64 = 0
        var deliveredCount: UInt32 = 0
        var isAppLimited = false
        var everRetransmitted = false
        var lost = false
        var timeouts = 0
        /// Which transmission of the packet the inflight queue's entry is for (older entries are stale).
        var stamp: UInt64 = 0
    }

    private struct Transmission: Sendable {
        var sequence: UInt32
        var stamp: UInt64
    }

    public let localID: UInt32
    public private(set) var remoteID: UInt32
    public private(set) var configuration: Configuration
    public private(set) var counters = Counters()

    private var receiver: UDXReceiveBuffer
    private var writeQueue = UDXWriteQueue()
    private let allocator = ByteBufferAllocator()
    private var packets: [UInt32: OutgoingPacket] = [:]
    /// Packets in flight in the order they were (re)sent; acked, lost or re-sent entries are skipped when met.
    private var inflight: Deque<Transmission> = []
    private var inflightCount = 0
    private var retransmitQueue: Deque<UInt32> = []
    private var unacknowledgedBytes = 0
    private var stamps: UInt64 = 0

    /// The next seq to send (libudx's `seq`).
    public private(set) var nextSequence: UInt32 = 0
    /// Everything before this seq is acknowledged (`remote_acked`).
    public private(set) var remoteAcknowledged: UInt32 = 0
    private var sendWindow = UInt32(4 * 1024 * 1024)
    private var windowUpdateSequence: UInt32 = 0
    private var windowUpdateAcknowledgement: UInt32 = 0

    private var roundTrip = UDXRoundTripEstimator()

    // Congestion control (libudx's cwnd, ssthresh, ca_state and high_seq, BBR, pacing).
    private var window: UInt32 = 10
    private var slowStartThreshold: UInt32 = 0xffff
    private var congestionState = UDXBBR.CongestionState.open
    /// Recovery (or loss) ends when the cumulative ack passes this seq.
    private var highSequence: UInt32 = 0
    private var bbr: UDXBBR
    private var pacingBytesPerMillisecond: UInt64 = 25_000
    private var pacingTokens: UInt64 = 25_000
    private var lastRefill: UInt64 = 0
    private var pacingDeadline: UInt64?

    // Delivery-rate estimation (libudx's udx_rate.c).
    private var delivered: UInt32 = 0
    private var deliveredAt: UInt64 = 0
    private var firstSentAt: UInt64 = 0
    /// Non-zero: the delivered count at which the application stopped keeping the window full (`app_limited`).
    private var appLimited: UInt32 = .max
    private var lostCount: UInt32 = 0
    private var rateDelivered: Int64 = 0
    private var rateInterval: Int64 = 0

    // RACK (RFC 8985 §6): the latest RTT, and the transmission stamp of the most recently sent packet acked, which
    // says exactly which transmissions came before it (libudx compares millisecond send times and breaks ties by seq,
    // which on a fast path calls a retransmission made in the same millisecond "sent before" newer data, and marks it
    // lost again and again; libudx skips packets still queued in the kernel for that reason).
    private var rackRTT: UInt64 = 0
    private var rackStamp: UInt64 = 0
    private var rackForwardAck: UInt32 = 0
    private var reorderingSeen = false
    /// Packets acked selectively and not yet cumulatively (libudx's `sacks`).
    private var selectivelyAcked = 0
    /// The seqs acked selectively, as runs after `remoteAcknowledged`: every ack during a recovery repeats the
    /// blocks it carried before, and walking them again seq by seq would cost the whole window per ack.
    private var selectivelyAckedRuns: [UDXPacket.SACKBlock] = []

    // Tail-loss probe (RFC 8985 §7).
    private var probeInFlight = false
    private var probePermitted = false
    private var probeIsRetransmission = false
    private var probeEnd: UInt32 = 0

    private var retransmissionDeadline: UInt64?
    private var reorderDeadline: UInt64?
    private var probeDeadline: UInt64?
    private var zeroWindowDeadline: UInt64?
    private var keepAliveDeadline: UInt64?
    /// `connect` was called: keep-alives only go to a peer we know (libudx checks UDX_STREAM_CONNECTED).
    private var isConnected = false

    private var endRequested = false
    private var endSent = false
    private var localEnded = false
    private var remoteEndReported = false
    private var refusedWrite = false
    public private(set) var closeReason: CloseReason?
    /// After `changeRemote`: the seq the cumulative ack must reach for the change to be complete.
    private var remoteChangeSequence: UInt32?

    /// `now` starts BBR's clocks (its min-RTT filter would otherwise look ten seconds old at the first ack).
    /// `sequence` and `acknowledgement` are the first seqs each way (libudx's connect options; HyperDHT uses 0).
    public init(
        localID: UInt32, remoteID: UInt32, configuration: Configuration = Configuration(), now: UInt64 = 0,
        sequence: UInt32 = 0, acknowledgement: UInt32 = 0
    ) {
        self.localID = localID
        self.remoteID = remoteID
        self.configuration = configuration
        self.receiver = UDXReceiveBuffer(windowLimit: configuration.receiveWindow, next: acknowledgement)
        nextSequence = sequence
        remoteAcknowledged = sequence
        highSequence = sequence
        rackForwardAck = sequence
        windowUpdateSequence = acknowledgement &- 1
        windowUpdateAcknowledgement = sequence
        var link = UDXBBR.Link(
            window: 10, slowStartThreshold: 0xffff, pacingBytesPerMillisecond: 25_000, appLimited: .max, inflight: 0,
            delivered: 0, deliveredAt: 0, smoothedRTT: 0, congestionState: .open,
            payloadSize: configuration.payloadSize, now: now)
        bbr = UDXBBR(link: &link, minimumRTT: UInt64(UInt32.max))
        pacingBytesPerMillisecond = link.pacingBytesPerMillisecond
        lastRefill = now
    }

    // MARK: - Queries

    public var isClosed: Bool { closeReason != nil }
    /// Written, not yet acknowledged: the send buffer's use.
    public var bufferedSendBytes: Int { writeQueue.count + unacknowledgedBytes }
    /// Received ahead of a gap, or delivered and not yet read: the receive buffer's use.
    public var bufferedReceiveBytes: Int { receiver.bytesAhead + receiver.unreadBytes }
    /// The most `bufferedReceiveBytes` can reach: twice the receive window (the window itself is advisory).
    public var receiveBufferLimit: Int { receiver.hardLimit }
    public var isWritable: Bool { !refusedWrite && bufferedSendBytes < configuration.sendBufferLimit }
    public var retransmissionTimeout: UInt64 { roundTrip.timeout }
    public var smoothedRTT: UInt64 { roundTrip.smoothed }
    public var congestionWindow: Int { Int(window) }
    /// Where BBR is (STARTUP, DRAIN, PROBE_BW or PROBE_RTT).
    var congestionPhase: UDXBBR.Mode { bbr.mode }
    /// BBR's bandwidth estimate, bytes per second.
    /// The most one packet carries: a data packet's payload, and the largest MESSAGE.
    public var payloadSize: Int { configuration.payloadSize }
    public var estimatedBandwidth: Double { bbr.estimatedBandwidth * Double(configuration.payloadSize) * 1000 }
    /// The next seq this side expects from the peer.
    public var acknowledgement: UInt32 { receiver.next }

    /// When `timeout(now:)` should next be called, if anything waits on time.
    public var nextDeadline: UInt64? {
        guard closeReason == nil else { return nil }
        // Folded by hand: this runs after every packet, and an array of the five would allocate each time.
        func earlier(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        return earlier(
            earlier(earlier(retransmissionDeadline, reorderDeadline), earlier(probeDeadline, zeroWindowDeadline)),
            earlier(pacingDeadline, keepAliveDeadline))
    }

    // MARK: - Application events

    /// Queues bytes to send; `flush(now:)` puts them on the wire.
    public mutating func write(_ bytes: [UInt8]) throws(WriteError) {
        try write(ByteBuffer(bytes: bytes))
    }

    /// Queues bytes to send; `flush(now:)` puts them on the wire. The packets' payloads are slices of `bytes`.
    public mutating func write(_ bytes: ByteBuffer) throws(WriteError) {
        guard !isClosed else { throw .closed }
        guard !endRequested else { throw .ended }
        let available = configuration.sendBufferLimit - bufferedSendBytes
        guard bytes.readableBytes <= available else {
            refusedWrite = true
            throw .bufferFull(available: max(0, available))
        }
        writeQueue.append(bytes)
    }

    /// Ends this side once everything written is sent: the last packet carries END (or an empty END packet follows).
    public mutating func end() throws(WriteError) {
        guard !isClosed else { throw .closed }
        endRequested = true
    }

    /// Sends what the windows allow: lost packets first, then new ones.
    public mutating func flush(now: UInt64) -> [Action] {
        var actions: [Action] = []
        sendPackets(now: now, into: &actions)
        return actions
    }

    /// An unordered datagram on this stream (libudx's `udx_stream_send`): carries the current seq, takes none.
    public mutating func send(message: [UInt8]) throws(WriteError) -> [Action] {
        guard !isClosed else { throw .closed }
        guard message.count <= configuration.payloadSize else {
            throw .messageTooLarge(size: message.count, limit: configuration.payloadSize)
        }
        counters.packetsSent += 1
        var datagram = header(.message, sequence: nextSequence, payloadSize: message.count)
        datagram.writeBytes(message)
        return [.transmit(datagram)]
    }

    /// Resets the stream: one DESTROY packet (taking a seq, never retransmitted), and the stream is closed.
    public mutating func destroy() -> [Action] {
        guard !isClosed else { return [] }
        let packet = header(.destroy, sequence: nextSequence)
        nextSequence &+= 1
        counters.packetsSent += 1
        var actions: [Action] = [.transmit(packet)]
        close(.destroyed, into: &actions)
        return actions
    }

    /// The reader consumed `count` delivered bytes. If that reopens a window the peer saw as closed, an ack tells it.
    public mutating func read(_ count: Int) -> [Action] {
        guard !isClosed else { return [] }
        let wasClosed = receiver.advertisedWindow < UInt32(configuration.payloadSize)
        receiver.read(count)
        guard wasClosed, receiver.advertisedWindow >= UInt32(configuration.payloadSize) else { return [] }
        var actions: [Action] = []
        sendAcknowledgement(into: &actions)
        return actions
    }

    /// Sets the peer's stream id when connecting (nothing is on the wire for it).
    public mutating func connect(remoteID id: UInt32, now: UInt64) {
        remoteID = id
        isConnected = true
        armKeepAlive(now: now)
    }

    /// The stream moves to another remote id (libudx's `udx_stream_change_remote`; the shell changes the socket and
    /// address). The switch is immediate; `remoteChanged` comes once everything sent before it is acknowledged (at
    /// once when nothing is in flight), as libudx's `on_remote_changed`.
    public mutating func changeRemote(id: UInt32) -> [Action] {
        guard !isClosed else { return [] }
        remoteID = id
        guard remoteAcknowledged != nextSequence else {
            remoteChangeSequence = nil
            return [.remoteChanged]
        }
        remoteChangeSequence = nextSequence
        return []
    }

    // MARK: - Packets

    /// One packet for this stream, processed as libudx's `process_packet` does, step for step.
    public mutating func receive(_ packet: UDXPacket, now: UInt64) -> [Action] {
        if closeReason == .finished {
            // Lingering (TCP's TIME-WAIT): our last ack may have been lost, and the peer then sends its END again
            // until it times out. Acking it again lets the peer finish too.
            guard !packet.flags.isDisjoint(with: [.data, .end, .heartbeat]) else { return [] }
            var actions: [Action] = []
            sendAcknowledgement(into: &actions)
            return actions
        }
        guard !isClosed else { return [] }
        counters.packetsReceived += 1
        var actions: [Action] = []
        let flags = packet.flags
        let seq = packet.sequence
        let ack = packet.acknowledgement

        if flags.contains(.heartbeat) {
            sendAcknowledgement(into: &actions)
            return actions
        }

        let priorAcknowledged = remoteAcknowledged
        let acknowledgementAdvanced = UDXSequence.isAfter(ack, priorAcknowledged)
        let dataInFlight = remoteAcknowledged != nextSequence
        let deliveredBefore = delivered
        let lostBefore = lostCount

        if !UDXSequence.isBefore(seq, receiver.next) {
            if !flags.isDisjoint(with: [.data, .end]) && !receiver.isHeld(seq) {
                var delivered = 0
                let outcome = receiver.receive(seq: seq, flags: flags, payload: packet.payload) { bytes in
                    delivered += bytes.readableBytes
                    actions.append(.deliver(bytes))
                }
                counters.bytesDelivered += delivered
                switch outcome {
                case .accepted, .buffered: break
                case .duplicate: counters.duplicates += 1
                case .beyondSpan: counters.beyondSpan += 1
                case .windowFull: counters.windowFull += 1
                }
            } else if !flags.isDisjoint(with: [.data, .end]) {
                counters.duplicates += 1
            }
            if flags.contains(.destroy) {
                close(.reset, into: &actions)
                return actions
            }
        } else if !flags.isDisjoint(with: [.data, .end]) {
            counters.duplicates += 1
        }

        if flags.contains(.message) {
            actions.append(.message(Array(packet.payload.readableBytesView)))
        }

        // An ack for a seq never sent: libudx stops here (and sends no ack even for data).
        if UDXSequence.isBefore(nextSequence, ack) {
            counters.invalidAcks += 1
            return actions
        }

        if !UDXSequence.isBefore(ack, remoteAcknowledged),
            UDXSequence.isBefore(windowUpdateSequence, seq)
                || (windowUpdateSequence == seq && !UDXSequence.isBefore(ack, windowUpdateAcknowledgement))
        {
            sendWindow = packet.receiveWindow
            windowUpdateSequence = seq
            windowUpdateAcknowledgement = ack
            zeroWindowDeadline = sendWindow == 0 ? now + roundTrip.timeout : nil
        }

        if let change = remoteChangeSequence, !UDXSequence.isBefore(ack, change) {
            remoteChangeSequence = nil
            actions.append(.remoteChanged)
        }

        if probeInFlight, !UDXSequence.isBefore(ack, probeEnd) {
            if !probeIsRetransmission || UDXSequence.isAfter(ack, probeEnd) { probeInFlight = false }
        }

        let wasRecovering = congestionState != .open
        if UDXSequence.isAfter(ack, highSequence), congestionState != .open {
            if congestionState == .recovery { window = slowStartThreshold }
            congestionState = .open
        }
        var sample = UDXRateSample()
        var ended = false
        var cursor = priorAcknowledged
        while UDXSequence.isBefore(cursor, ack) {
            switch acknowledgePacket(cursor, selectively: false, now: now, sample: &sample) {
            case .acknowledged: delivered &+= 1
            case .finishedSending:
                ended = true
            case .absent: break
            }
            if ended { break }
            cursor &+= 1
        }
        if acknowledgementAdvanced { remoteAcknowledged = ack }
        dropStaleTransmissions()

        if ended {
            if remoteAcknowledged == nextSequence {
                retransmissionDeadline = nil
                probeDeadline = nil
                armKeepAlive(now: now)
            }
            // Both sides ended: libudx closes without another ack (the peer's END was acked when it came).
            if remoteEndReported {
                close(.finished, into: &actions)
                return actions
            }
            // A final ack, so that the peer's END (if it came with this packet) is acked and reported.
            sendAcknowledgement(into: &actions)
            return actions
        }

        if acknowledgementAdvanced { trimSelectivelyAckedRuns() }
        for block in packet.sackBlocks {
            guard isValid(block) else {
                counters.invalidSACKs += 1
                continue
            }
            var seq = block.start
            while seq != block.end {
                if let run = selectivelyAckedRuns.first(where: { contains($0, seq) }) {
                    // Acked by an earlier block: jump past it.
                    seq = UDXSequence.isBefore(run.end, block.end) ? run.end : block.end
                    continue
                }
                if acknowledgePacket(seq, selectively: true, now: now, sample: &sample) == .acknowledged {
                    delivered &+= 1
                }
                seq &+= 1
            }
            addSelectivelyAckedRun(block)
        }
        if isClosed { return actions }
        let newlyDelivered = delivered &- deliveredBefore

        if acknowledgementAdvanced, !wasRecovering, selectivelyAcked == 0 {
            scheduleLossProbe(now: now)
        }
        if newlyDelivered > 0 {
            if remoteAcknowledged == nextSequence {
                retransmissionDeadline = nil
                probeDeadline = nil
                armKeepAlive(now: now)
            } else {
                retransmissionDeadline = now + roundTrip.timeout
            }
            detectLosses(now: now, into: &actions)
        }

        if !flags.isDisjoint(with: [.data, .end]) {
            sendAcknowledgement(into: &actions)
            if isClosed { return actions }
        }
        // Our END may have been acked selectively, its gap filled later by a cumulative ack that finds nothing left.
        if localEnded, remoteEndReported {
            close(.finished, into: &actions)
            return actions
        }
        if dataInFlight {
            // Nothing could be acked, and no sample taken, when nothing was in flight.
            generateRateSample(&sample, delivered: newlyDelivered, lost: lostCount &- lostBefore, now: now)
            updateCongestionControl(sample, now: now)
        }
        sendPackets(now: now, into: &actions)
        return actions
    }

    // MARK: - Timers

    /// Runs whatever timers are due at `now`.
    public mutating func timeout(now: UInt64) -> [Action] {
        var actions: [Action] = []
        if let deadline = retransmissionDeadline, deadline <= now {
            retransmissionTimedOut(now: now, into: &actions)
            if isClosed { return actions }
        }
        if let deadline = reorderDeadline, deadline <= now {
            reorderDeadline = nil
            detectLosses(now: now, into: &actions)
        }
        if let deadline = probeDeadline, deadline <= now {
            probeDeadline = nil
            lossProbe(now: now, into: &actions)
        }
        if let deadline = pacingDeadline, deadline <= now {
            pacingDeadline = nil
            sendPackets(now: now, into: &actions)
        }
        if let deadline = zeroWindowDeadline, deadline <= now {
            zeroWindowDeadline = nil
            if sendWindow == 0 {
                counters.zeroWindowProbes += 1
                _ = sendNewPacket(now: now, ignoringWindow: true, into: &actions)
            }
        }
        if let deadline = keepAliveDeadline, deadline <= now {
            keepAliveDeadline = nil
            // Only while idle, as libudx asserts: data in flight keeps the path busy by itself.
            if remoteAcknowledged == nextSequence {
                counters.packetsSent += 1
                counters.heartbeatsSent += 1
                actions.append(.transmit(header(.heartbeat, sequence: nextSequence)))
                armKeepAlive(now: now)
            }
        }
        return actions
    }

    /// Sets the keep-alive interval (ms; 0 stops it), as `udx_stream_set_keepalive`: on an idle stream the first
    /// HEARTBEAT goes `interval` from now.
    public mutating func setKeepAlive(_ interval: UInt64, now: UInt64) {
        configuration.keepAliveInterval = interval
        keepAliveDeadline = nil
        if remoteAcknowledged == nextSequence { armKeepAlive(now: now) }
    }

    private mutating func armKeepAlive(now: UInt64) {
        guard configuration.keepAliveInterval > 0, isConnected, closeReason == nil else { return }
        keepAliveDeadline = now + configuration.keepAliveInterval
    }

    private mutating func retransmissionTimedOut(now: UInt64, into actions: inout [Action]) {
        guard remoteAcknowledged != nextSequence else {
            retransmissionDeadline = nil
            return
        }
        counters.retransmissionTimeouts += 1
        highSequence = nextSequence
        congestionState = .loss
        probeInFlight = false
        probeIsRetransmission = false
        // libudx re-arms at twice the timeout without storing the doubled value.
        retransmissionDeadline = now + roundTrip.timeout * 2
        retransmitQueue.removeAll()
        let reordering = reorderWindow()
        var seq = remoteAcknowledged
        while seq != nextSequence {
            defer { seq &+= 1 }
            guard var packet = packets[seq] else { continue }
            if packet.lost {
                retransmitQueue.append(seq)
                continue
            }
            let remaining = Int64(packet.sentAt) + Int64(rackRTT) + Int64(reordering) - Int64(now)
            guard seq == remoteAcknowledged || remaining < 0 else { continue }
            if packet.timeouts >= 6 {
                close(.timedOut, into: &actions)
                return
            }
            lostCount &+= 1
            packet.timeouts += 1
            packet.lost = true
            packets[seq] = packet
            inflightCount -= 1
            retransmitQueue.append(seq)
        }
        bbr.retransmissionTimedOut()
        sendPackets(now: now, into: &actions)
    }

    private mutating func lossProbe(now: UInt64, into actions: inout [Action]) {
        guard remoteAcknowledged != nextSequence else { return }
        if probeInFlight || !probePermitted {
            scheduleLossProbe(now: now)
            return
        }
        counters.lossProbes += 1
        if sendNewPacket(now: now, ignoringWindow: true, into: &actions) {
            probeIsRetransmission = false
            probeInFlight = true
            probeEnd = nextSequence &- 1
            probePermitted = false
            return
        }
        let last = nextSequence &- 1
        guard let packet = packets[last], !packet.lost else {
            scheduleLossProbe(now: now)
            return
        }
        inflightCount -= 1
        transmit(last, now: now, retransmission: true, into: &actions)
        probeIsRetransmission = true
        probeInFlight = true
        probeEnd = last
        probePermitted = false
    }

    private mutating func scheduleLossProbe(now: UInt64) {
        var timeout: UInt64 = 1000
        if roundTrip.smoothed > 0 {
            timeout = roundTrip.smoothed * 2
            if inflightCount == 1 { timeout += 2 }  // UDX_TLP_MAX_ACK_DELAY
        }
        if let deadline = retransmissionDeadline { timeout = min(timeout, deadline > now ? deadline - now : 0) }
        probeDeadline = now + timeout
    }

    // MARK: - Acknowledgements

    private enum AcknowledgeOutcome { case absent, acknowledged, finishedSending }

    private mutating func acknowledgePacket(
        _ seq: UInt32, selectively: Bool, now: UInt64, sample: inout UDXRateSample
    ) -> AcknowledgeOutcome {
        guard let packet = packets.removeValue(forKey: seq) else {
            if !selectively, selectivelyAcked > 0 { selectivelyAcked -= 1 }
            return .absent
        }
        if selectively { selectivelyAcked += 1 }
        if packet.lost {
            // Still queued for retransmission: the queue skips packets that are gone.
        } else {
            inflightCount -= 1
        }
        unacknowledgedBytes -= packet.payload.readableBytes
        packetDelivered(packet, seq: seq, sample: &sample)
        let rtt = roundTrip.sample(sentAt: packet.sentAt, now: now)
        let next = seq &+ 1
        if !packet.everRetransmitted {
            roundTrip.record(rtt, now: now)
            probePermitted = true
        }
        if !packet.everRetransmitted || rtt >= roundTrip.minimumRTT {
            rackRTT = rtt
            sample.rtt = Int64(rtt)
            rackStamp = max(rackStamp, packet.stamp)
        }
        if UDXSequence.isAfter(next, rackForwardAck) {
            rackForwardAck = next
        } else if UDXSequence.isBefore(next, rackForwardAck), !packet.everRetransmitted {
            reorderingSeen = true
        }
        if endSent, packets.isEmpty, writeQueue.isEmpty, !localEnded {
            localEnded = true
            return .finishedSending
        }
        return .acknowledged
    }

    private func contains(_ run: UDXPacket.SACKBlock, _ seq: UInt32) -> Bool {
        !UDXSequence.isBefore(seq, run.start) && UDXSequence.isBefore(seq, run.end)
    }

    /// Merges a block into the runs (kept in order, disjoint, not touching).
    private mutating func addSelectivelyAckedRun(_ block: UDXPacket.SACKBlock) {
        var merged = block
        var kept: [UDXPacket.SACKBlock] = []
        kept.reserveCapacity(selectivelyAckedRuns.count + 1)
        for run in selectivelyAckedRuns {
            if UDXSequence.isBefore(run.end, merged.start) || UDXSequence.isAfter(run.start, merged.end) {
                kept.append(run)
            } else {
                if UDXSequence.isBefore(run.start, merged.start) { merged.start = run.start }
                if UDXSequence.isAfter(run.end, merged.end) { merged.end = run.end }
            }
        }
        let index = kept.firstIndex { UDXSequence.isAfter($0.start, merged.start) } ?? kept.endIndex
        kept.insert(merged, at: index)
        selectivelyAckedRuns = kept
    }

    /// Drops what the cumulative ack now covers.
    private mutating func trimSelectivelyAckedRuns() {
        selectivelyAckedRuns.removeAll { !UDXSequence.isAfter($0.end, remoteAcknowledged) }
        if let first = selectivelyAckedRuns.first, UDXSequence.isBefore(first.start, remoteAcknowledged) {
            selectivelyAckedRuns[0].start = remoteAcknowledged
        }
    }

    /// libudx's `udx_sack_is_valid` (strict since libudx #284): inside what was sent and not yet acked.
    private func isValid(_ block: UDXPacket.SACKBlock) -> Bool {
        if UDXSequence.isAfter(block.end, nextSequence) { return false }
        if UDXSequence.difference(block.start, block.end) >= 0 { return false }
        if UDXSequence.difference(block.start, nextSequence) >= 0 { return false }
        if UDXSequence.isBefore(block.start, remoteAcknowledged) { return false }
        return true
    }

    /// RACK's reordering window (RFC 8985 §6.2.4, as libudx's `rack_update_reo_wnd`).
    private func reorderWindow() -> UInt64 {
        if !reorderingSeen, congestionState != .open || selectivelyAcked >= 3 { return 0 }
        return min(roundTrip.minimumRTT / 4, roundTrip.smoothed)
    }

    /// RACK loss detection (libudx's `rack_detect_loss`): packets sent before the most recently acked one, and
    /// older than the latest RTT plus the reordering window, are lost; the soonest of the rest sets the reorder timer.
    private mutating func detectLosses(now: UInt64, into actions: inout [Action]) {
        let reordering = reorderWindow()
        var timeout: UInt64 = 0
        var found = 0
        var index = inflight.startIndex
        while index < inflight.endIndex {
            let entry = inflight[index]
            guard let packet = packets[entry.sequence], !packet.lost, packet.stamp == entry.stamp else {
                index += 1
                continue
            }
            // The queue is in transmission order: the first packet not sent before RACK's reference packet ends the
            // scan (libudx goes on through every packet sent in the same millisecond, which on a fast path is the
            // whole window, at every ack).
            guard packet.stamp < rackStamp else { break }
            let remaining = Int64(packet.sentAt) + Int64(rackRTT) + Int64(reordering) - Int64(now)
            if remaining <= 0 {
                lostCount &+= 1
                packets[entry.sequence]?.lost = true
                inflightCount -= 1
                retransmitQueue.append(entry.sequence)
                found += 1
            } else {
                timeout = max(timeout, UInt64(remaining))
            }
            index += 1
        }
        dropStaleTransmissions()
        if found > 0, congestionState == .open {
            counters.fastRecoveries += 1
            congestionState = .recovery
            highSequence = nextSequence
            probeInFlight = false
            probeIsRetransmission = false
        }
        reorderDeadline = timeout > 0 ? now + timeout : nil
        sendPackets(now: now, into: &actions)
    }

    private static func sentAfter(_ t1: UInt64, _ seq1: UInt32, _ t2: UInt64, _ seq2: UInt32) -> Bool {
        t1 > t2 || (t1 == t2 && UDXSequence.isAfter(seq1, seq2))
    }

    private mutating func dropStaleTransmissions() {
        while let first = inflight.first {
            if let packet = packets[first.sequence], !packet.lost, packet.stamp == first.stamp { break }
            inflight.removeFirst()
        }
    }

    // MARK: - Sending

    private var sendWindowInPackets: Int {
        let byWindow = Int(sendWindow) / configuration.payloadSize
        return min(Int(window), sendWindow > 0 ? max(byWindow, 1) : 0)
    }

    /// libudx's `stream_may_send`: pacing tokens left in this millisecond, and room in the window.
    private mutating func maySend(now: UInt64) -> Bool {
        if now > lastRefill {
            pacingTokens = (now - lastRefill) * pacingBytesPerMillisecond
            lastRefill = now
        }
        return pacingTokens > 0 && inflightCount < sendWindowInPackets
    }

    private mutating func sendPackets(now: UInt64, into actions: inout [Action]) {
        guard !isClosed else { return }
        while maySend(now: now), let seq = retransmitQueue.first {
            retransmitQueue.removeFirst()
            guard let packet = packets[seq], packet.lost else { continue }
            transmit(seq, now: now, retransmission: true, into: &actions)
        }
        while sendNewPacket(now: now, ignoringWindow: false, into: &actions) {}
        if refusedWrite, bufferedSendBytes <= configuration.sendBufferLowWater {
            refusedWrite = false
            actions.append(.writable)
        }
        if sendWindow == 0, inflightCount == 0, !writeQueue.isEmpty || (endRequested && !endSent) {
            if zeroWindowDeadline == nil { zeroWindowDeadline = now + roundTrip.timeout }
        }
    }

    /// Puts the next payload's worth of written bytes (and END, once everything is out) in a new packet.
    private mutating func sendNewPacket(now: UInt64, ignoringWindow: Bool, into actions: inout [Action]) -> Bool {
        let hasEnd = endRequested && !endSent
        guard !writeQueue.isEmpty || hasEnd else { return false }
        guard ignoringWindow || maySend(now: now) else { return false }
        let payload = writeQueue.take(upTo: configuration.payloadSize)
        var flags: UDXPacket.Flags = payload.readableBytes == 0 ? [] : .data
        if endRequested, writeQueue.isEmpty {
            flags.insert(.end)
            endSent = true
        }
        let seq = nextSequence
        packets[seq] = OutgoingPacket(flags: flags, payload: payload)
        unacknowledgedBytes += payload.readableBytes
        let idle = nextSequence == remoteAcknowledged
        nextSequence &+= 1
        transmit(seq, now: now, retransmission: false, idle: idle, into: &actions)
        return true
    }

    private mutating func transmit(
        _ seq: UInt32, now: UInt64, retransmission: Bool, idle: Bool = false, into actions: inout [Action]
    ) {
        guard var packet = packets[seq] else { return }
        checkApplicationLimited()
        let inflightWasEmpty = inflightCount == 0
        stamps += 1
        packet.sentAt = now
        packetSent(&packet, idle: idle, now: now)
        packet.stamp = stamps
        packet.lost = false
        if retransmission {
            packet.everRetransmitted = true
            counters.retransmissions += 1
        }
        packets[seq] = packet
        inflight.append(Transmission(sequence: seq, stamp: stamps))
        inflightCount += 1
        counters.packetsSent += 1
        var datagram = header(packet.flags, sequence: seq, payloadSize: packet.payload.readableBytes)
        datagram.writeImmutableBuffer(packet.payload)
        let size = UInt64(datagram.readableBytes)
        actions.append(.transmit(datagram))
        pacingTokens = size > pacingTokens ? 0 : pacingTokens - size
        if pacingTokens == 0 { pacingDeadline = now + 1 }
        if inflightWasEmpty { congestionTransmitStarted(now: now) }
        if retransmissionDeadline == nil { retransmissionDeadline = now + roundTrip.timeout }
        keepAliveDeadline = nil
        if congestionState != .open || selectivelyAcked > 0 {
            probeDeadline = nil
        } else {
            scheduleLossProbe(now: now)
        }
    }

    // MARK: - Delivery rate and BBR (libudx's udx_rate.c and its calls into udx_bbr.c)

    /// The application is not keeping the window full: samples taken until what is in flight now is delivered
    /// do not lower the bandwidth estimate (`udx__rate_check_app_limited`).
    private mutating func checkApplicationLimited() {
        if bufferedSendBytes < configuration.payloadSize, inflightCount < Int(window), retransmitQueue.isEmpty {
            appLimited = max(delivered &+ UInt32(clamping: inflightCount), 1)
        }
    }

    /// Stamps a packet with the delivery state at its sending (`udx__rate_pkt_sent`).
    private mutating func packetSent(_ packet: inout OutgoingPacket, idle: Bool, now: UInt64) {
        if idle {
            // Nothing in flight: this flight's sampling intervals start now.
            firstSentAt = now
            deliveredAt = now
        }
        packet.firstSentAt = firstSentAt
        packet.deliveredAt = deliveredAt
        packet.deliveredCount = delivered
        packet.isAppLimited = appLimited != 0
    }

    /// Folds an acked packet into this ack's sample: the most recently sent one sets it (`udx__rate_pkt_delivered`).
    private mutating func packetDelivered(_ packet: OutgoingPacket, seq: UInt32, sample: inout UDXRateSample) {
        guard packet.deliveredAt != 0 else { return }
        if sample.priorDelivered == 0 || Self.sentAfter(packet.sentAt, seq, firstSentAt, sample.sequence) {
            sample.priorDelivered = packet.deliveredCount
            sample.priorTimestamp = packet.deliveredAt
            sample.isAppLimited = packet.isAppLimited
            sample.isRetransmission = packet.everRetransmitted
            sample.sequence = seq
            firstSentAt = packet.sentAt
            sample.interval = Int64(firstSentAt) - Int64(packet.firstSentAt) > 0
                ? Int64(firstSentAt) - Int64(packet.firstSentAt) : 0
        }
    }

    /// Completes this ack's sample (`udx__rate_gen`).
    private mutating func generateRateSample(_ sample: inout UDXRateSample, delivered newly: UInt32, lost: UInt32, now: UInt64) {
        if appLimited != 0, UDXSequence.isAfter(delivered, appLimited) { appLimited = 0 }
        if newly > 0 { deliveredAt = now }
        sample.ackedSacked = newly
        sample.losses = lost
        guard sample.priorTimestamp != 0 else {
            sample.delivered = -1
            sample.interval = -1
            return
        }
        sample.delivered = Int64(delivered &- sample.priorDelivered)
        let sendInterval = sample.interval
        let ackInterval = Int64(now) - Int64(sample.priorTimestamp) > 0 ? Int64(now) - Int64(sample.priorTimestamp) : 0
        // Unlike libudx, a flight sent and acked within one tick of the millisecond clock counts as one millisecond
        // (the slowest rate it can have been) instead of an interval of 0, which libudx's BBR discards. On a path
        // faster than the clock (loopback; any with segmentation offload, whose trains leave and are acked in one
        // tick) every sample would be discarded, no round would ever start, and BBR would stay in startup at the
        // rate of its first sample.
        sample.interval = max(sendInterval, ackInterval, 1)
        // Shorter than the min RTT: a burst of acks, not a rate.
        if UInt64(max(sample.interval, 0)) < roundTrip.minimumRTT {
            sample.interval = -1
            return
        }
        if !sample.isAppLimited || sample.delivered * rateInterval >= rateDelivered * sample.interval {
            rateDelivered = sample.delivered
            rateInterval = sample.interval
        }
    }

    private func link(now: UInt64) -> UDXBBR.Link {
        UDXBBR.Link(
            window: window, slowStartThreshold: slowStartThreshold, pacingBytesPerMillisecond: pacingBytesPerMillisecond,
            appLimited: appLimited, inflight: UInt32(clamping: inflightCount), delivered: delivered,
            deliveredAt: deliveredAt, smoothedRTT: roundTrip.smoothed, congestionState: congestionState,
            payloadSize: configuration.payloadSize, now: now)
    }

    private mutating func adopt(_ link: UDXBBR.Link) {
        window = link.window
        slowStartThreshold = link.slowStartThreshold
        pacingBytesPerMillisecond = max(link.pacingBytesPerMillisecond, 1)
        appLimited = link.appLimited
    }

    private mutating func updateCongestionControl(_ sample: UDXRateSample, now: UInt64) {
        var link = link(now: now)
        bbr.update(sample, link: &link)
        adopt(link)
    }

    private mutating func congestionTransmitStarted(now: UInt64) {
        var link = link(now: now)
        bbr.transmitStarted(link: &link)
        adopt(link)
    }

    /// An ack as libudx's `send_ack` writes it; then, as there, the peer's end is reported once everything before it
    /// arrived, and a stream whose both sides ended closes.
    private mutating func sendAcknowledgement(into actions: inout [Action]) {
        let blocks = receiver.selectiveAcknowledgements()
        // As `UDXPacket.acknowledgement` builds it: SACK with blocks, a plain ack without.
        var ack = header(
            blocks.isEmpty ? [] : .sack, sequence: nextSequence,
            payloadSize: min(blocks.count, UDXPacket.maximumSACKBlocks) * 8)
        UDXPacket.writeSACKBlocks(blocks, into: &ack)
        counters.packetsSent += 1
        actions.append(.transmit(ack))
        if receiver.remoteEnded, !remoteEndReported {
            remoteEndReported = true
            actions.append(.remoteEnded)
        }
        if remoteEndReported, localEnded {
            close(.finished, into: &actions)
        }
    }

    /// Our header for a packet: the current window and ack, as libudx's `udx_write_header` writes them.
    /// The datagram is allocated once, with room for `payloadSize` bytes after the header.
    private func header(_ flags: UDXPacket.Flags, sequence: UInt32, payloadSize: Int = 0) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: UDXPacket.headerSize + payloadSize)
        UDXPacket.writeHeader(
            into: &buffer, flags: flags, remoteID: remoteID, receiveWindow: receiver.advertisedWindow,
            sequence: sequence, acknowledgement: receiver.next)
        return buffer
    }

    private mutating func close(_ reason: CloseReason, into actions: inout [Action]) {
        guard closeReason == nil else { return }
        closeReason = reason
        packets.removeAll()
        inflight.removeAll()
        retransmitQueue.removeAll()
        writeQueue.removeAll()
        inflightCount = 0
        unacknowledgedBytes = 0
        retransmissionDeadline = nil
        reorderDeadline = nil
        probeDeadline = nil
        zeroWindowDeadline = nil
        keepAliveDeadline = nil
        actions.append(.closed(reason))
    }
}
