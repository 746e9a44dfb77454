import CompactEncoding

/// `cancel` (type 2): the requester no longer wants the answer to request `request`. Layout: `uint request`.
public struct CancelMessage: Hashable, Sendable, CompactCodable {
    public var request: UInt64
    public init(request: UInt64) { self.request = request }
    public func encode<W: CompactWriter>(to writer: inout W) { writer.writeUInt(request) }
    public init(from reader: inout CompactReader) throws(CompactEncodingError) { request = try reader.readUInt() }
}

/// `noData` (type 4): the responder cannot answer request `request`. Layout: `uint request`, `uint flags`
/// (1 = a reason follows; the whole flags field may be absent on decode), `uint reason`. Reasons: 1 not available,
/// 2 invalid request.
public struct NoDataMessage: Hashable, Sendable, CompactCodable {
    public static let notAvailable: UInt64 = 1
    public static let invalidRequest: UInt64 = 2

    public var request: UInt64
    public var reason: UInt64
    public init(request: UInt64, reason: UInt64 = 0) {
        self.request = request
        self.reason = reason
    }
    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(request)
        writer.writeUInt(reason != 0 ? 1 : 0)
        if reason != 0 { writer.writeUInt(reason) }
    }
    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        request = try reader.readUInt()
        let flags = reader.isAtEnd ? 0 : try reader.readUInt()
        reason = flags & 1 != 0 ? try reader.readUInt() : 0
    }
}

/// `want` (type 5) and `unwant` (type 6): interest in a range of blocks. Layout: `uint start`, `uint length`, then
/// `uint flags` (bit 0 `any`), written only when non-zero and read only if present, as the reference does.
public struct WantMessage: Hashable, Sendable, CompactCodable {
    public var start: UInt64
    public var length: UInt64
    public var any: Bool
    public init(start: UInt64, length: UInt64, any: Bool = false) {
        self.start = start
        self.length = length
        self.any = any
    }
    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(start)
        writer.writeUInt(length)
        if any { writer.writeUInt(1) }
    }
    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        start = try reader.readUInt()
        length = try reader.readUInt()
        any = reader.isAtEnd ? false : (try reader.readUInt()) & 1 != 0
    }
}

/// `bitfield` (type 7): which blocks a peer has, as 32-bit words starting at block `start` (bit i of word w =
/// block start + 32w + i). Layout: `uint start`, `uint count`, then `count` uint32 LE words.
public struct BitfieldMessage: Hashable, Sendable, CompactCodable {
    public var start: UInt64
    public var words: [UInt32]
    static let maximumWords = 65536
    public init(start: UInt64, words: [UInt32]) {
        self.start = start
        self.words = words
    }
    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(start)
        writer.writeArray(words) { $0.writeUInt32($1) }
    }
    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        start = try reader.readUInt()
        words = try reader.readArray(minimumElementSize: 4, limit: Self.maximumWords) {
            (r: inout CompactReader) throws(CompactEncodingError) in try r.readUInt32()
        }
    }
}

/// `range` (type 8): a peer has (or, with `drop`, no longer has) blocks `start ..< start + length`.
/// Layout: `uint flags` (1 drop, 2 length is 1 and omitted), `uint start`, then `uint length` unless flag 2.
public struct RangeMessage: Hashable, Sendable, CompactCodable {
    public var drop: Bool
    public var start: UInt64
    public var length: UInt64
    public init(drop: Bool = false, start: UInt64, length: UInt64) {
        self.drop = drop
        self.start = start
        self.length = length
    }
    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt((drop ? 1 : 0) | (length == 1 ? 2 : 0))
        writer.writeUInt(start)
        if length != 1 { writer.writeUInt(length) }
    }
    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        drop = flags & 1 != 0
        start = try reader.readUInt()
        length = flags & 2 != 0 ? 1 : try reader.readUInt()
    }
}

/// `extension` (type 9): an application message on the core's channel. Layout: `string name`, then the message
/// bytes to the end of the frame.
public struct ExtensionMessage: Hashable, Sendable, CompactCodable {
    public var name: String
    public var message: [UInt8]
    public init(name: String, message: [UInt8]) {
        self.name = name
        self.message = message
    }
    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeString(name)
        writer.writeRaw(message)
    }
    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        name = try reader.readString(limit: 256)
        message = reader.readRemaining()
    }
}

/// `reorgHint` (encoding only in hypercore 11; not registered as a channel message): a fork moved from length
/// `from` to `to` with `ancestors` blocks in common. Layout: three uints.
public struct ReorgHintMessage: Hashable, Sendable, CompactCodable {
    public var from: UInt64
    public var to: UInt64
    public var ancestors: UInt64
    public init(from: UInt64, to: UInt64, ancestors: UInt64) {
        self.from = from
        self.to = to
        self.ancestors = ancestors
    }
    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(from)
        writer.writeUInt(to)
        writer.writeUInt(ancestors)
    }
    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        from = try reader.readUInt()
        to = try reader.readUInt()
        ancestors = try reader.readUInt()
    }
}
