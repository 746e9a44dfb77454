import CompactEncoding

/// `protomux` 3.10 framing as a pure state machine: channels named by (protocol, id), opened with a handshake,
/// carrying typed messages; each secret-stream message is one frame.
///
/// Frames: a channel message is `uint senderChannelId ‖ uint type ‖ body`; control frames (channel 0) are
/// `00 01 open (uint localId ‖ string protocol ‖ buffer id ‖ handshake)`, `00 02 reject (uint id)`,
/// `00 03 close (uint localId)` and `00 00 batch (uint channel ‖ {uint length ‖ item | 00 ‖ uint channel}*)`.
/// Channel ids are each side's own; the receiver maps the sender's ids to (protocol, id).
public struct ProtomuxSession: Sendable {
    public struct ChannelKey: Hashable, Sendable {
        public var protocolName: String
        public var id: [UInt8]
    }

    public enum Event: Equatable, Sendable {
        case opened(protocol: String, id: [UInt8], handshake: [UInt8])
        case message(protocol: String, id: [UInt8], type: UInt64, message: [UInt8])
        case closed(protocol: String, id: [UInt8])
    }

    public enum Failure: Error, Equatable, Sendable {
        case malformed(String)
    }

    static let maximumBatchDepth = 4

    private var localIDs: [ChannelKey: UInt64] = [:]
    private var nextLocalID: UInt64 = 1
    private var remote: [UInt64: ChannelKey] = [:]
    /// Batched frames while corked, as (channel, item).
    private var corked: [(UInt64, [UInt8])]?

    public init() {}

    // MARK: - Sending

    /// The open frame for a channel (the same channel opened twice reuses its id).
    public mutating func open(protocol name: String, id: [UInt8], handshake: [UInt8]) -> [UInt8]? {
        let key = ChannelKey(protocolName: name, id: id)
        let localID = localIDs[key] ?? allocate(key)
        var writer = CompactByteWriter()
        writer.writeUInt(1)
        writer.writeUInt(localID)
        writer.writeString(name)
        writer.writeBuffer(id)
        writer.writeRaw(handshake)
        return emit(channel: 0, item: writer.bytes)
    }

    /// A message frame, or nil when the channel was never opened locally.
    public mutating func send(protocol name: String, id: [UInt8], type: UInt64, message: [UInt8]) -> [UInt8]? {
        guard let localID = localIDs[ChannelKey(protocolName: name, id: id)] else { return nil }
        var writer = CompactByteWriter(capacity: message.count + 4)
        writer.writeUInt(type)
        writer.writeRaw(message)
        return emit(channel: localID, item: writer.bytes)
    }

    /// The close frame, or nil when the channel is not open locally.
    public mutating func close(protocol name: String, id: [UInt8]) -> [UInt8]? {
        guard let localID = localIDs.removeValue(forKey: ChannelKey(protocolName: name, id: id)) else { return nil }
        var writer = CompactByteWriter()
        writer.writeUInt(3)
        writer.writeUInt(localID)
        return emit(channel: 0, item: writer.bytes)
    }

    /// From now until `uncork`, frames are collected into one batch frame.
    public mutating func cork() {
        if corked == nil { corked = [] }
    }

    /// The batch frame of everything sent while corked (nil when nothing was).
    public mutating func uncork() -> [UInt8]? {
        guard let items = corked else { return nil }
        corked = nil
        guard let first = items.first else { return nil }
        var writer = CompactByteWriter()
        writer.writeUInt(0)
        writer.writeUInt(0)
        writer.writeUInt(first.0)
        var current = first.0
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

    private mutating func allocate(_ key: ChannelKey) -> UInt64 {
        defer { nextLocalID += 1 }
        localIDs[key] = nextLocalID
        return nextLocalID
    }

    private mutating func emit(channel: UInt64, item: [UInt8]) -> [UInt8]? {
        if corked != nil {
            corked?.append((channel, item))
            return nil
        }
        var writer = CompactByteWriter(capacity: item.count + 2)
        writer.writeUInt(channel)
        writer.writeRaw(item)
        return writer.bytes
    }

    // MARK: - Receiving

    /// Decodes one frame. Messages for unknown channels are dropped (as the reference does); malformed frames are
    /// an error that should end the connection.
    public mutating func receive(_ frame: [UInt8]) throws(Failure) -> [Event] {
        guard !frame.isEmpty else { return [] }
        var reader = CompactReader(frame)
        do {
            let channel = try reader.readUInt()
            return try item(channel: channel, &reader, depth: 0)
        } catch let error as Failure {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }

    private mutating func item(channel: UInt64, _ reader: inout CompactReader, depth: Int) throws -> [Event] {
        if channel != 0 {
            let type = try reader.readUInt()
            let body = reader.readRemaining()
            guard let key = remote[channel] else { return [] }
            return [.message(protocol: key.protocolName, id: key.id, type: type, message: body)]
        }
        switch try reader.readUInt() {
        case 0:
            guard depth < Self.maximumBatchDepth else { throw Failure.malformed("batches nested too deep") }
            var current = try reader.readUInt()
            var events: [Event] = []
            while !reader.isAtEnd {
                let length = try reader.readUInt()
                if length == 0 {
                    current = try reader.readUInt()
                    continue
                }
                guard length <= UInt64(reader.remaining) else { throw Failure.malformed("batch item overruns the frame") }
                var itemReader = CompactReader(try reader.readBytes(count: Int(length)))
                events += try item(channel: current, &itemReader, depth: depth + 1)
            }
            return events
        case 1:
            let remoteID = try reader.readUInt()
            guard remoteID != 0 else { throw Failure.malformed("open with channel id 0") }
            let name = try reader.readString(limit: 1024)
            let id = try reader.readBuffer(limit: 1024)
            let handshake = reader.readRemaining()
            remote[remoteID] = ChannelKey(protocolName: name, id: id)
            return [.opened(protocol: name, id: id, handshake: handshake)]
        case 2:
            // A reject of one of our opens: forget the local channel.
            let rejected = try reader.readUInt()
            if let key = localIDs.first(where: { $0.value == rejected })?.key {
                localIDs.removeValue(forKey: key)
                return [.closed(protocol: key.protocolName, id: key.id)]
            }
            return []
        case 3:
            let remoteID = try reader.readUInt()
            guard let key = remote.removeValue(forKey: remoteID) else { return [] }
            return [.closed(protocol: key.protocolName, id: key.id)]
        default:
            return []  // Unknown control types are ignored, as the reference does.
        }
    }
}
