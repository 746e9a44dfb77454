import CompactEncoding

/// One protomux frame (`protomux` 3.10), as carried in one secret-stream message.
///
/// A channel message is `uint senderChannelId(≥1) ‖ uint type ‖ body`. Control frames have channel 0:
/// `00 01` open (`uint senderLocalId ‖ string protocol ‖ buffer id ‖ handshake…`), `00 02` reject (`uint id` the
/// rejected side used), `00 03` close (`uint senderLocalId`) and `00 00` batch
/// (`uint channel ‖ {uint length ‖ item | 00 ‖ uint nextChannel}*`, where an item is a frame without its channel id).
/// Channel ids are always the sender's own.
public enum ProtomuxFrame: Equatable, Sendable {
    case message(channel: UInt64, type: UInt64, body: [UInt8])
    /// `id` is empty when the channel has none (protomux treats an empty and an absent id alike).
    case open(channel: UInt64, protocol: String, id: [UInt8], handshake: [UInt8])
    case reject(channel: UInt64)
    case close(channel: UInt64)

    /// Batches may nest in principle; the reference never nests them, so a shallow bound is enough.
    static let maximumBatchDepth = 4
    /// Bounds on the names in an open frame; real ones are a short protocol string and a 32-byte id.
    public static let maximumProtocolLength = 1024
    public static let maximumIDLength = 1024

    // MARK: - Encoding

    /// The whole frame.
    public func encoded() -> [UInt8] {
        var writer = CompactByteWriter(capacity: estimatedSize + 2)
        writer.writeUInt(channel)
        writeItem(into: &writer)
        return writer.bytes
    }

    /// The channel id the frame is sent on (0 for control frames).
    public var channel: UInt64 {
        if case .message(let channel, _, _) = self { return channel }
        return 0
    }

    /// The frame without its channel id: what a batch carries.
    public func batchItem() -> [UInt8] {
        var writer = CompactByteWriter(capacity: estimatedSize)
        writeItem(into: &writer)
        return writer.bytes
    }

    private var estimatedSize: Int {
        switch self {
        case .message(_, _, let body): body.count + 10
        case .open(_, let name, let id, let handshake): name.utf8.count + id.count + handshake.count + 30
        case .reject, .close: 11
        }
    }

    private func writeItem(into writer: inout CompactByteWriter) {
        switch self {
        case .message(_, let type, let body):
            writer.writeUInt(type)
            writer.writeRaw(body)
        case .open(let channel, let name, let id, let handshake):
            writer.writeUInt(1)
            writer.writeUInt(channel)
            writer.writeString(name)
            writer.writeBuffer(id)
            writer.writeRaw(handshake)
        case .reject(let channel):
            writer.writeUInt(2)
            writer.writeUInt(channel)
        case .close(let channel):
            writer.writeUInt(3)
            writer.writeUInt(channel)
        }
    }

    /// A batch frame: `00 00 ‖ uint firstChannel`, then per item `uint length ‖ item`, switching channel with
    /// `00 ‖ uint channel` whenever it changes. Items are `(channel, batchItem())` pairs.
    public static func batch(_ items: [(channel: UInt64, item: [UInt8])]) -> [UInt8] {
        guard let first = items.first else { return [] }
        var writer = CompactByteWriter(capacity: items.reduce(8) { $0 + $1.item.count + 6 })
        writer.writeUInt(0)
        writer.writeUInt(0)
        writer.writeUInt(first.channel)
        var current = first.channel
        for (channel, item) in items {
            if channel != current {
                writer.writeUInt(0)
                writer.writeUInt(channel)
                current = channel
            }
            writer.writeBuffer(item)
        }
        return writer.bytes
    }

    // MARK: - Decoding

    /// Decodes one received frame into its frames, batches flattened in order. Unknown control types decode to
    /// nothing (the reference ignores them); an empty frame is nothing. Anything malformed throws.
    public static func decode(_ bytes: [UInt8]) throws(ProtomuxError) -> [ProtomuxFrame] {
        guard !bytes.isEmpty else { return [] }
        var reader = CompactReader(bytes)
        var frames: [ProtomuxFrame] = []
        do {
            let channel = try reader.readUInt()
            try decodeItem(channel: channel, &reader, depth: 0, into: &frames)
        } catch let error as ProtomuxError {
            throw error
        } catch let error as CompactEncodingError {
            throw .malformedFrame("\(error)")
        } catch {
            throw .malformedFrame("\(error)")
        }
        return frames
    }

    private static func decodeItem(
        channel: UInt64, _ reader: inout CompactReader, depth: Int, into frames: inout [ProtomuxFrame]
    ) throws {
        let type = try reader.readUInt()
        if channel != 0 {
            frames.append(.message(channel: channel, type: type, body: reader.readRemaining()))
            return
        }
        switch type {
        case 0:
            guard depth < maximumBatchDepth else { throw ProtomuxError.malformedFrame("batches nested too deep") }
            var current = try reader.readUInt()
            while !reader.isAtEnd {
                let length = try reader.readUInt()
                if length == 0 {
                    current = try reader.readUInt()
                    continue
                }
                // The reference does not check this; an item running past the frame is malformed.
                guard length <= UInt64(reader.remaining) else {
                    throw ProtomuxError.malformedFrame("batch item of \(length) bytes overruns the frame")
                }
                var item = CompactReader(try reader.readBytes(count: Int(length)))
                try decodeItem(channel: current, &item, depth: depth + 1, into: &frames)
            }
        case 1:
            let sender = try reader.readUInt()
            let name = try reader.readString(limit: maximumProtocolLength)
            let id = try reader.readBuffer(limit: maximumIDLength)
            frames.append(.open(channel: sender, protocol: name, id: id, handshake: reader.readRemaining()))
        case 2:
            frames.append(.reject(channel: try reader.readUInt()))
        case 3:
            frames.append(.close(channel: try reader.readUInt()))
        default:
            break  // Unknown control types are ignored, as the reference does.
        }
    }
}

/// Why a protomux session must end, or why a local call was refused.
public enum ProtomuxError: Error, Equatable, Sendable {
    /// A frame that does not parse.
    case malformedFrame(String)
    /// An open whose channel id is neither the next one nor a free slot (the reference's "Invalid open message").
    case invalidOpen(channel: UInt64)
    /// A reject for an id we have no pending open under (the reference's "Invalid reject message").
    case invalidReject(channel: UInt64)
    /// The peer holds more channels, or more messages for channels not yet paired, than we allow.
    case limitExceeded(String)
    /// `open` for a (protocol, id) that is already open locally (protomux channels are unique by default).
    case alreadyOpen
    /// `send` or `close` on a channel that is not open locally.
    case notOpen
    /// `reject` for a (protocol, id) the peer has no unanswered open under.
    case noPendingOpen
}
