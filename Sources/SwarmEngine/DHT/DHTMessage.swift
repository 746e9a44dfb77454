import CompactEncoding

/// One dht-rpc datagram, as dht-rpc 6.26 (the version hyperdht 6.33 uses) writes and reads it in `lib/io.js`: the
/// first byte is the type in the high nibble and the protocol version `0b11` in the low one (`0x03` a request,
/// `0x13` a response), then a compact-encoded flags word saying which optional fields follow, the transaction id
/// (uint16 little-endian) and `to`, the receiver's address as the sender sees it (6 bytes: how a node learns its own
/// public address).
///
/// Decoding follows the reference's leniency where it is deliberate: bytes after the last field are ignored (a later
/// version may append fields), and unknown flag bits are kept (so that a message re-encodes to its own bytes). What
/// the reference would throw on (a field cut short) is `DHTMessage.DecodeError`, and the datagram is dropped.
public enum DHTMessage: Sendable, Equatable {
    case request(DHTRequest)
    case response(DHTResponse)

    public static let version: UInt8 = 0b11
    public static let requestByte: UInt8 = 0 << 4 | version
    public static let responseByte: UInt8 = 1 << 4 | version

    public enum DecodeError: Error, Sendable, Equatable {
        /// Not a dht-rpc datagram: under 2 bytes, or another first byte (another protocol on the same socket, or a
        /// future version).
        case notDHT
        /// A field was cut short or malformed.
        case malformed(CompactEncodingError)
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        guard bytes.count >= 2 else { throw .notDHT }
        var reader = CompactReader(bytes[1...])
        do {
            switch bytes[0] {
            case Self.requestByte: self = .request(try DHTRequest(from: &reader))
            case Self.responseByte: self = .response(try DHTResponse(from: &reader))
            default: throw DecodeError.notDHT
            }
        } catch let error as CompactEncodingError {
            throw .malformed(error)
        } catch let error as DecodeError {
            throw error
        } catch {
            throw .notDHT
        }
    }

    public func encoded() -> [UInt8] {
        var writer = CompactByteWriter(capacity: 128)
        switch self {
        case .request(let request):
            writer.writeByte(Self.requestByte)
            request.encode(to: &writer)
        case .response(let response):
            writer.writeByte(Self.responseByte)
            response.encode(to: &writer)
        }
        return writer.bytes
    }
}

/// A dht-rpc request. `id` is sent only by a persistent node from its server socket (a node's id is bound to its
/// public address, `DHTNodeID`); `token` proves the requester got it from us recently (`DHTTokens`); `internal`
/// marks dht-rpc's own commands (PING, PING_NAT, FIND_NODE, DOWN_HINT, DELAYED_PING) apart from the application's
/// (HyperDHT's), which share the numbers.
public struct DHTRequest: Sendable, Equatable {
    public var tid: UInt16
    public var to: IPv4Endpoint
    public var id: [UInt8]?
    public var token: [UInt8]?
    public var isInternal: Bool
    public var command: UInt64
    public var target: [UInt8]?
    public var value: [UInt8]?
    /// Flag bits beyond the five known ones, as received (kept so that a message re-encodes to its bytes).
    public var unknownFlags: UInt64 = 0

    public init(
        tid: UInt16, to: IPv4Endpoint, id: [UInt8]? = nil, token: [UInt8]? = nil, isInternal: Bool, command: UInt64,
        target: [UInt8]? = nil, value: [UInt8]? = nil
    ) {
        self.tid = tid
        self.to = to
        self.id = id
        self.token = token
        self.isInternal = isInternal
        self.command = command
        self.target = target
        self.value = value
    }

    init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        tid = try reader.readUInt16()
        to = try reader.read(IPv4Endpoint.self)
        id = flags & 1 != 0 ? try reader.readFixed(length: 32) : nil
        token = flags & 2 != 0 ? try reader.readFixed(length: 32) : nil
        isInternal = flags & 4 != 0
        command = try reader.readUInt()
        target = flags & 8 != 0 ? try reader.readFixed(length: 32) : nil
        value = flags & 16 != 0 ? try reader.readBuffer() : nil
        unknownFlags = flags & ~0b11111
    }

    func encode(to writer: inout some CompactWriter) {
        var flags = unknownFlags
        if id != nil { flags |= 1 }
        if token != nil { flags |= 2 }
        if isInternal { flags |= 4 }
        if target != nil { flags |= 8 }
        if value != nil { flags |= 16 }
        writer.writeUInt(flags)
        writer.writeUInt16(tid)
        writer.write(to)
        if let id { writer.writeFixed(id, length: 32) }
        if let token { writer.writeFixed(token, length: 32) }
        writer.writeUInt(command)
        if let target { writer.writeFixed(target, length: 32) }
        if let value { writer.writeBuffer(value) }
    }
}

/// A dht-rpc response, matched to its request by `tid` alone. `to` is the requester's address as the responder saw
/// it; `closerNodes` are the responder's closest nodes to the request's target; `error` is 0 for success
/// (`UNKNOWN_COMMAND` 1, `INVALID_TOKEN` 2, or an application's code).
public struct DHTResponse: Sendable, Equatable {
    public var tid: UInt16
    public var to: IPv4Endpoint
    public var id: [UInt8]?
    public var token: [UInt8]?
    public var closerNodes: [IPv4Endpoint]?
    public var error: UInt64
    public var value: [UInt8]?
    public var unknownFlags: UInt64 = 0

    public init(
        tid: UInt16, to: IPv4Endpoint, id: [UInt8]? = nil, token: [UInt8]? = nil, closerNodes: [IPv4Endpoint]? = nil,
        error: UInt64 = 0, value: [UInt8]? = nil
    ) {
        self.tid = tid
        self.to = to
        self.id = id
        self.token = token
        self.closerNodes = closerNodes
        self.error = error
        self.value = value
    }

    init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        tid = try reader.readUInt16()
        to = try reader.read(IPv4Endpoint.self)
        id = flags & 1 != 0 ? try reader.readFixed(length: 32) : nil
        token = flags & 2 != 0 ? try reader.readFixed(length: 32) : nil
        closerNodes = flags & 4 != 0 ? try reader.readArray(minimumElementSize: 6) { reader throws(CompactEncodingError) in
            try reader.read(IPv4Endpoint.self)
        } : nil
        error = flags & 8 != 0 ? try reader.readUInt() : 0
        value = flags & 16 != 0 ? try reader.readBuffer() : nil
        unknownFlags = flags & ~0b11111
    }

    func encode(to writer: inout some CompactWriter) {
        var flags = unknownFlags
        if id != nil { flags |= 1 }
        if token != nil { flags |= 2 }
        // Present means written (a node with no closer nodes passes nil, as the reference leaves an empty list out);
        // error 0 is left out, as in the reference.
        if closerNodes != nil { flags |= 4 }
        if error > 0 { flags |= 8 }
        if value != nil { flags |= 16 }
        writer.writeUInt(flags)
        writer.writeUInt16(tid)
        writer.write(to)
        if let id { writer.writeFixed(id, length: 32) }
        if let token { writer.writeFixed(token, length: 32) }
        if let closerNodes { writer.writeArray(closerNodes) { writer, node in writer.write(node) } }
        if error > 0 { writer.writeUInt(error) }
        if let value { writer.writeBuffer(value) }
    }
}
