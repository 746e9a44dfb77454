import CompactEncoding

/// A protomux session (`protomux` 3.10) as a pure state machine: channels named by (protocol, id), opened with a
/// handshake, paired with the peer's open for the same name, carrying typed messages, closed or rejected; frames
/// corked into batches. Frames in (`receive`), frames and events out; no I/O.
///
/// Ids are per direction: each side numbers its channels itself (slot + 1, freed slots reused most recent first,
/// as the reference does) and sends its own id; the receiver maps the sender's ids through the opens it saw.
///
/// One deliberate difference from the reference: an open nobody here has asked for is not rejected at once.
/// It is reported as `openRequested` and stays pending (its messages buffered, within limits) until the owner
/// pairs it with `open` or refuses it with `reject` — the reference's `pair()` notify hook, with the owner deciding
/// when. A close for such a pending open is answered with a reject so both sides free the ids.
public struct ProtomuxSession: Sendable {
    /// A channel's name. Compared by the UTF-8 bytes of the protocol name, as the reference compares JavaScript
    /// strings by code units: Swift's `String` equality would treat NFC and NFD spellings as one name.
    public struct ChannelKey: Hashable, Sendable {
        public var protocolName: String
        public var id: [UInt8]

        public init(protocolName: String, id: [UInt8]) {
            self.protocolName = protocolName
            self.id = id
        }

        public static func == (a: ChannelKey, b: ChannelKey) -> Bool {
            a.id == b.id && a.protocolName.utf8.elementsEqual(b.protocolName.utf8)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(id)
            for byte in protocolName.utf8 { hasher.combine(byte) }
        }
    }

    public enum Event: Equatable, Sendable {
        /// The peer opened a channel we have not opened: `open` the same (protocol, id) to pair, or `reject` it.
        case openRequested(protocol: String, id: [UInt8], handshake: [UInt8])
        /// Both sides opened the channel; `handshake` is the peer's (the reference's `onopen`).
        case opened(protocol: String, id: [UInt8], handshake: [UInt8])
        case message(protocol: String, id: [UInt8], type: UInt64, message: [UInt8])
        /// The peer closed the channel (or withdrew its pending open).
        case closed(protocol: String, id: [UInt8])
        /// The peer refused our open.
        case rejected(protocol: String, id: [UInt8])
    }

    /// What a call asks of the caller, in order.
    public enum Output: Equatable, Sendable {
        /// One frame to send as one secret-stream message.
        case write([UInt8])
        case event(Event)
    }

    struct LocalChannel: Sendable {
        let key: ChannelKey
        /// The peer's id for the channel once paired; 0 before.
        var remoteID: UInt64 = 0
    }

    enum RemoteSlot: Sendable {
        /// An open from the peer that no local channel has claimed yet, with the messages sent on it since.
        case pending(key: ChannelKey, handshake: [UInt8], buffered: [(type: UInt64, message: [UInt8])])
        case paired(localID: UInt64)
    }

    /// The reference flushes a batch once it reaches 8 MiB.
    public static let defaultMaximumBatchSize = 8 * 1024 * 1024
    /// Bookkeeping charged per buffered message on top of its bytes (the reference charges 512).
    static let bufferedMessageOverhead = 512

    /// How many channel slots the peer may hold at once.
    public let maximumRemoteChannels: Int
    /// How many bytes of handshakes and messages for unpaired channels may wait here at once. An open or a message
    /// that would exceed it gets its channel rejected (the peer sees the channel closed), not the session failed.
    public let maximumBufferedBytes: Int
    /// A batch is written once it reaches this size; keep it below the transport's frame limit.
    public let maximumBatchSize: Int

    private var local: [LocalChannel?] = []
    private var freeSlots: [Int] = []
    private var remote: [RemoteSlot?] = []
    /// Our ids awaiting the peer's open, oldest first, per name.
    private var outgoing: [ChannelKey: [UInt64]] = [:]
    /// The peer's ids awaiting our open, oldest first, per name.
    private var incoming: [ChannelKey: [UInt64]] = [:]
    /// Our id of the open channel per name (channels are unique per name).
    private var openChannels: [ChannelKey: UInt64] = [:]
    /// Bytes (with per-item overhead) waiting on channels the peer opened and nobody here has yet.
    public private(set) var bufferedBytes = 0
    private var corkDepth = 0
    private var batch: [(channel: UInt64, item: [UInt8])] = []
    /// The encoded size of `batch` as a frame, tracked as the reference does to decide when to flush.
    private var batchSize = 1

    public init(
        maximumRemoteChannels: Int = 65536, maximumBufferedBytes: Int = 8 * 1024 * 1024,
        maximumBatchSize: Int = ProtomuxSession.defaultMaximumBatchSize
    ) {
        self.maximumRemoteChannels = maximumRemoteChannels
        self.maximumBufferedBytes = maximumBufferedBytes
        self.maximumBatchSize = maximumBatchSize
    }

    // MARK: - Queries

    /// Whether the channel is open here (whether or not the peer has opened it too).
    public func isOpen(protocol name: String, id: [UInt8]) -> Bool {
        openChannels[ChannelKey(protocolName: name, id: id)] != nil
    }

    /// Whether both sides have opened the channel.
    public func isPaired(protocol name: String, id: [UInt8]) -> Bool {
        guard let localID = openChannels[ChannelKey(protocolName: name, id: id)] else { return false }
        return (local[Int(localID - 1)]?.remoteID ?? 0) != 0
    }

    public var isCorked: Bool { corkDepth > 0 }

    // MARK: - Local operations

    /// Opens a channel: writes our open, and pairs at once with a pending open from the peer for the same name
    /// (then `opened` and the messages buffered for it follow).
    public mutating func open(protocol name: String, id: [UInt8], handshake: [UInt8]) throws(ProtomuxError) -> [Output] {
        let key = ChannelKey(protocolName: name, id: id)
        guard openChannels[key] == nil else { throw .alreadyOpen }
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            local.append(nil)
            slot = local.count - 1
        }
        let localID = UInt64(slot + 1)
        var channel = LocalChannel(key: key)
        var events: [Event] = []
        if let remoteID = Self.takeFirst(&incoming, key), case .pending(_, let remoteHandshake, let buffered)? = remote[Int(remoteID - 1)] {
            remote[Int(remoteID - 1)] = .paired(localID: localID)
            channel.remoteID = remoteID
            bufferedBytes -= Self.cost(handshake: remoteHandshake, buffered: buffered)
            events.append(.opened(protocol: name, id: id, handshake: remoteHandshake))
            events += buffered.map { .message(protocol: name, id: id, type: $0.type, message: $0.message) }
        } else {
            outgoing[key, default: []].append(localID)
        }
        local[slot] = channel
        openChannels[key] = localID
        return emit(.open(channel: localID, protocol: name, id: id, handshake: handshake)) + events.map(Output.event)
    }

    /// A message on an open channel (batched while corked).
    public mutating func send(protocol name: String, id: [UInt8], type: UInt64, message: [UInt8]) throws(ProtomuxError) -> [Output] {
        guard let localID = openChannels[ChannelKey(protocolName: name, id: id)] else { throw .notOpen }
        return emit(.message(channel: localID, type: type, body: message))
    }

    /// Closes a channel here and tells the peer. No event: the caller knows.
    public mutating func close(protocol name: String, id: [UInt8]) throws(ProtomuxError) -> [Output] {
        guard let localID = openChannels.removeValue(forKey: ChannelKey(protocolName: name, id: id)) else { throw .notOpen }
        let slot = Int(localID - 1)
        if let remoteID = local[slot]?.remoteID, remoteID != 0 {
            remote[Int(remoteID - 1)] = nil
            // Paired: the peer has acknowledged our id, so it can be reused now. Unpaired, it stays reserved until
            // the peer's open or reject for it arrives.
            freeSlots.append(slot)
        }
        local[slot] = nil
        return emit(.close(channel: localID))
    }

    /// Refuses the oldest pending open from the peer for this name.
    public mutating func reject(protocol name: String, id: [UInt8]) throws(ProtomuxError) -> [Output] {
        guard let remoteID = Self.takeFirst(&incoming, ChannelKey(protocolName: name, id: id)) else { throw .noPendingOpen }
        return rejectRemote(remoteID)
    }

    /// From now until the matching `uncork`, frames are collected into batch frames.
    public mutating func cork() {
        corkDepth += 1
    }

    /// Ends one `cork`; the last one writes the batch (if anything was sent meanwhile).
    public mutating func uncork() -> [Output] {
        guard corkDepth > 0 else { return [] }
        corkDepth -= 1
        guard corkDepth == 0 else { return [] }
        return flushBatch()
    }

    // MARK: - Receiving

    /// One received frame (one secret-stream message). Messages for unknown or closed channels and unknown
    /// message types are the caller's to drop, as the reference does; a malformed frame or a broken rule throws,
    /// and the connection should end.
    public mutating func receive(_ bytes: [UInt8]) throws(ProtomuxError) -> [Output] {
        var outputs: [Output] = []
        for frame in try ProtomuxFrame.decode(bytes) {
            outputs += try handle(frame)
        }
        return outputs
    }

    private mutating func handle(_ frame: ProtomuxFrame) throws(ProtomuxError) -> [Output] {
        switch frame {
        case .message(let remoteID, let type, let body):
            guard remoteID <= UInt64(remote.count), let slot = remote[Int(remoteID - 1)] else { return [] }
            switch slot {
            case .paired(let localID):
                guard let key = local[Int(localID - 1)]?.key else { return [] }
                return [.event(.message(protocol: key.protocolName, id: key.id, type: type, message: body))]
            case .pending(let key, let handshake, var buffered):
                guard charge(Self.bufferedMessageOverhead + body.count) else {
                    // Too much waiting on channels nobody here has opened: refuse this one, keep the session.
                    Self.remove(remoteID, from: &incoming, key)
                    return rejectRemote(remoteID) + [.event(.closed(protocol: key.protocolName, id: key.id))]
                }
                // Release the slot's reference first so the append does not copy the whole list.
                remote[Int(remoteID - 1)] = nil
                buffered.append((type, body))
                remote[Int(remoteID - 1)] = .pending(key: key, handshake: handshake, buffered: buffered)
                return []
            }
        case .open(let remoteID, let name, let id, let handshake):
            // The reference tries to reject an open on channel 0 and fails doing so; it is simply ignored here.
            guard remoteID != 0 else { return [] }
            // The peer may grow its ids by one, or reuse a free slot; anything else is a protocol error.
            if remoteID == UInt64(remote.count) + 1 {
                guard remote.count < maximumRemoteChannels else { throw .limitExceeded("more than \(maximumRemoteChannels) channels") }
                remote.append(nil)
            }
            guard remoteID <= UInt64(remote.count), remote[Int(remoteID - 1)] == nil else { throw .invalidOpen(channel: remoteID) }
            let key = ChannelKey(protocolName: name, id: id)
            if let localID = Self.takeFirst(&outgoing, key) {
                let slot = Int(localID - 1)
                guard local[slot] != nil else {
                    // We closed it before the peer's open arrived: now the id is free, and the open is moot.
                    freeSlots.append(slot)
                    return []
                }
                remote[Int(remoteID - 1)] = .paired(localID: localID)
                local[slot]?.remoteID = remoteID
                return [.event(.opened(protocol: name, id: id, handshake: handshake))]
            }
            // Over the limit for unpaired opens: refused at once, as the reference refuses opens nobody claims.
            guard charge(Self.bufferedMessageOverhead + handshake.count) else { return emit(.reject(channel: remoteID)) }
            remote[Int(remoteID - 1)] = .pending(key: key, handshake: handshake, buffered: [])
            incoming[key, default: []].append(remoteID)
            return [.event(.openRequested(protocol: name, id: id, handshake: handshake))]
        case .reject(let localID):
            guard localID != 0, let key = outgoing.first(where: { $0.value.contains(localID) })?.key else {
                throw .invalidReject(channel: localID)
            }
            outgoing[key]?.removeAll { $0 == localID }
            if outgoing[key]?.isEmpty == true { outgoing[key] = nil }
            let slot = Int(localID - 1)
            freeSlots.append(slot)
            guard local[slot] != nil else { return [] }
            local[slot] = nil
            if openChannels[key] == localID { openChannels[key] = nil }
            return [.event(.rejected(protocol: key.protocolName, id: key.id))]
        case .close(let remoteID):
            guard remoteID != 0, remoteID <= UInt64(remote.count), let slot = remote[Int(remoteID - 1)] else { return [] }
            switch slot {
            case .paired(let localID):
                let localSlot = Int(localID - 1)
                remote[Int(remoteID - 1)] = nil
                guard let key = local[localSlot]?.key else { return [] }
                local[localSlot] = nil
                freeSlots.append(localSlot)
                openChannels[key] = nil
                return [.event(.closed(protocol: key.protocolName, id: key.id))]
            case .pending(let key, _, _):
                // The reference ignores this and keeps both ids reserved; answering with a reject frees them.
                Self.remove(remoteID, from: &incoming, key)
                return rejectRemote(remoteID) + [.event(.closed(protocol: key.protocolName, id: key.id))]
            }
        }
    }

    // MARK: - Helpers

    private mutating func rejectRemote(_ remoteID: UInt64) -> [Output] {
        if case .pending(_, let handshake, let buffered)? = remote[Int(remoteID - 1)] {
            bufferedBytes -= Self.cost(handshake: handshake, buffered: buffered)
        }
        remote[Int(remoteID - 1)] = nil
        return emit(.reject(channel: remoteID))
    }

    /// Reserves room for bytes waiting on an unpaired channel; false when that would exceed the limit.
    private mutating func charge(_ bytes: Int) -> Bool {
        guard bufferedBytes + bytes <= maximumBufferedBytes else { return false }
        bufferedBytes += bytes
        return true
    }

    private static func remove(_ remoteID: UInt64, from table: inout [ChannelKey: [UInt64]], _ key: ChannelKey) {
        table[key]?.removeAll { $0 == remoteID }
        if table[key]?.isEmpty == true { table[key] = nil }
    }

    private static func cost(handshake: [UInt8], buffered: [(type: UInt64, message: [UInt8])]) -> Int {
        buffered.reduce(bufferedMessageOverhead + handshake.count) { $0 + bufferedMessageOverhead + $1.message.count }
    }

    private static func takeFirst(_ table: inout [ChannelKey: [UInt64]], _ key: ChannelKey) -> UInt64? {
        guard var queue = table[key], !queue.isEmpty else { return nil }
        let first = queue.removeFirst()
        table[key] = queue.isEmpty ? nil : queue
        return first
    }

    /// Sends a frame now, or adds it to the batch while corked.
    private mutating func emit(_ frame: ProtomuxFrame) -> [Output] {
        guard corkDepth > 0 else { return [.write(frame.encoded())] }
        var outputs: [Output] = []
        let item = frame.batchItem()
        let itemSize = 1 + Self.uintLength(frame.channel) + Self.uintLength(UInt64(item.count)) + item.count
        // Written before it would outgrow the limit (the reference checks only after the fact, so its batches can
        // exceed 8 MiB by one item; ours stay within the transport's frame limit).
        if !batch.isEmpty, batchSize + itemSize > maximumBatchSize { outputs = flushBatch() }
        if batch.last?.channel != frame.channel { batchSize += 1 + Self.uintLength(frame.channel) }
        batchSize += Self.uintLength(UInt64(item.count)) + item.count
        batch.append((frame.channel, item))
        return outputs
    }

    private mutating func flushBatch() -> [Output] {
        defer {
            batch = []
            batchSize = 1
        }
        return batch.isEmpty ? [] : [.write(ProtomuxFrame.batch(batch))]
    }

    static func uintLength(_ value: UInt64) -> Int {
        switch value {
        case ...0xfc: 1
        case ...0xffff: 3
        case ...0xffff_ffff: 5
        default: 9
        }
    }
}
