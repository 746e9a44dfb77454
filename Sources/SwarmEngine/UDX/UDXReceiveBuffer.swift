import NIOCore

/// The receiving half of a UDX stream: which seq comes next, the packets that arrived ahead of it, and the selective
/// acks that describe them, as libudx keeps them (`process_data_packet`, the read-queue loop of `process_packet`
/// and `send_ack` in src/udx.c).
///
/// Unlike libudx, which buffers any packet at or after the next seq (up to 2³¹ ahead), this buffer is bounded twice:
/// a packet more than `maximumSpan` seqs ahead is dropped (libudx's SACK scan cannot describe it anyway), and the
/// bytes held ahead plus the bytes delivered but not yet read may not exceed twice the receive window (`hardLimit`).
/// The advertised window stays advisory below that, as in libudx: its zero-window probe is a data packet sent into a
/// closed window, and dropping it would cost the sender a retransmission timeout per probe until the stream died.
///
/// In-order payloads are handed on as they came (views of the socket's read, no copy); a packet held ahead is copied
/// into storage of its own, so that it does not keep NIO's whole read buffer (up to 32 datagrams) alive while it
/// waits, which would make the memory a peer can pin many times `hardLimit`.
struct UDXReceiveBuffer: Sendable {
    struct Pending: Sendable {
        var flags: UDXPacket.Flags
        var payload: ByteBuffer
    }

    /// What became of one DATA or END packet.
    enum Outcome: Sendable, Equatable {
        /// Its bytes (and any that waited behind it) are in order now.
        case accepted
        /// Held until the packets before it arrive.
        case buffered
        /// Already received (a retransmission whose ack was lost).
        case duplicate
        /// Too far ahead of the next seq.
        case beyondSpan
        /// The receive window is full.
        case windowFull
    }

    /// How far ahead of the next seq a packet may be (libudx's SACK scan looks this far).
    static let maximumSpan: UInt32 = 65_536

    let windowLimit: Int
    /// The next seq expected: everything before it arrived (the `ack` we send).
    private(set) var next: UInt32 = 0
    private var ahead: [UInt32: Pending] = [:]
    /// The held seqs as maximal runs, in order after `next`: what the SACK blocks are made of, kept so that an ack
    /// costs one step per run instead of one per held packet (a lost packet holds back a whole window, and every
    /// packet behind it is acked).
    private var heldRuns: [UDXPacket.SACKBlock] = []
    /// libudx's `out_of_order`: how many packets are held ahead (its SACK scan counts down from it).
    var outOfOrder: Int { ahead.count }
    private(set) var bytesAhead = 0
    /// Delivered to the reader and not yet reported read.
    private(set) var unreadBytes = 0
    /// The seq of the peer's END, once it arrived.
    private(set) var remoteEnd: UInt32?

    init(windowLimit: Int, next: UInt32 = 0) {
        self.windowLimit = windowLimit
        self.next = next
    }

    /// The most bytes held (ahead and unread): a sender that ignores the window has its packets dropped beyond it.
    var hardLimit: Int { 2 * windowLimit }

    /// The window to advertise: what the reader can still take (libudx's `get_recv_rwnd`).
    var advertisedWindow: UInt32 {
        UInt32(clamping: max(0, windowLimit - unreadBytes - bytesAhead))
    }

    /// Every byte up to and including the peer's END has been delivered.
    var remoteEnded: Bool {
        guard let remoteEnd else { return false }
        return UDXSequence.isBefore(remoteEnd, next)
    }

    func isHeld(_ seq: UInt32) -> Bool { ahead[seq] != nil }

    /// Takes a DATA or END packet at or after the next seq; in-order bytes go to `deliver` (in order).
    mutating func receive(
        seq: UInt32, flags: UDXPacket.Flags, payload: ByteBuffer, deliver: (ByteBuffer) -> Void
    ) -> Outcome {
        let size = payload.readableBytes
        let distance = UInt32(bitPattern: UDXSequence.difference(seq, next))
        if flags.contains(.end) { remoteEnd = seq }
        if seq == next && flags.contains(.data) {
            guard unreadBytes + bytesAhead + size <= hardLimit else {
                return .windowFull
            }
            next &+= 1
            unreadBytes += size
            deliver(payload)
            drain(deliver)
            return .accepted
        }
        guard distance < Self.maximumSpan else { return .beyondSpan }
        guard ahead[seq] == nil else { return .duplicate }
        guard unreadBytes + bytesAhead + size <= hardLimit else {
            return .windowFull
        }
        var own = ByteBuffer()
        own.reserveCapacity(size)
        own.writeImmutableBuffer(payload)
        ahead[seq] = Pending(flags: flags, payload: own)
        bytesAhead += size
        insertRun(seq)
        if seq == next {
            drain(deliver)
            return .accepted
        }
        return .buffered
    }

    /// Delivers the packets that now follow in order (libudx's read-queue loop).
    mutating func drain(_ deliver: (ByteBuffer) -> Void) {
        if let first = heldRuns.first, first.start == next { heldRuns.removeFirst() }
        while let pending = ahead.removeValue(forKey: next) {
            bytesAhead -= pending.payload.readableBytes
            next &+= 1
            if pending.flags.contains(.data) {
                unreadBytes += pending.payload.readableBytes
                deliver(pending.payload)
            }
        }
    }

    /// The reader has consumed `count` delivered bytes: the window opens by as much.
    mutating func read(_ count: Int) {
        unreadBytes = max(0, unreadBytes - count)
    }

    /// The SACK blocks an ack carries, exactly as libudx's `send_ack` finds them: it scans the seqs after the next
    /// one, counting the out-of-order count down at every seq it does not hold, and stops when that reaches zero or
    /// after `UDXPacket.maximumSACKBlocks` blocks. (The count falls at gaps, not at held packets: libudx's scan ends
    /// early when gaps outnumber held packets, and an ack that matches libudx's must end where it does.) Computed
    /// from the runs: a gap of n missing seqs costs n at once.
    func selectiveAcknowledgements() -> [UDXPacket.SACKBlock] {
        var blocks: [UDXPacket.SACKBlock] = []
        var remaining = outOfOrder
        var position = next &+ 1
        for run in heldRuns {
            guard remaining > 0, blocks.count < UDXPacket.maximumSACKBlocks else { break }
            // The scan covers at most maximumSpan seqs after the next one.
            let limit = next &+ 1 &+ Self.maximumSpan
            guard UDXSequence.isBefore(run.start, limit) else { break }
            let missing = Int(UDXSequence.difference(run.start, position))
            if missing >= remaining { break }
            remaining -= missing
            let end = UDXSequence.isAfter(run.end, limit) ? limit : run.end
            blocks.append(UDXPacket.SACKBlock(start: run.start, end: end))
            position = end
        }
        return blocks
    }

    /// Adds a seq to the runs, joining the runs it touches.
    private mutating func insertRun(_ seq: UInt32) {
        let distance = UDXSequence.difference(seq, next)
        // The first run that ends after seq (in order after `next`): runs before it end at or before seq.
        var index = 0
        while index < heldRuns.count, UDXSequence.difference(heldRuns[index].end, next) <= distance { index += 1 }
        let joinsPrevious = index > 0 && heldRuns[index - 1].end == seq
        let joinsNext = index < heldRuns.count && heldRuns[index].start == seq &+ 1
        switch (joinsPrevious, joinsNext) {
        case (true, true):
            heldRuns[index - 1].end = heldRuns[index].end
            heldRuns.remove(at: index)
        case (true, false):
            heldRuns[index - 1].end = seq &+ 1
        case (false, true):
            heldRuns[index].start = seq
        case (false, false):
            heldRuns.insert(UDXPacket.SACKBlock(start: seq, end: seq &+ 1), at: index)
        }
    }
}
