import NIOCore

/// One UDX datagram as libudx writes and reads it (`udx_write_header`, `process_packet` in src/udx.c, at the commit
/// udx-native 1.20.7 pins): a 20-byte header, then the body. The first step of the UDX transport (issue 15): a pure
/// value, no sockets.
///
/// Header: magic 0xff, version 1, type (bit flags), data offset (body bytes before the stream data), then four
/// little-endian 32-bit fields: the receiver's stream id, the sender's receive window in bytes, seq, and ack (the next
/// seq the sender expects). In a SACK packet the body starts with selective-ack blocks, pairs of little-endian
/// [start, end) seqs received out of order; libudx writes data offset 0 and reads the whole body as blocks then.
///
/// The body is a `ByteBuffer`: a packet decoded from a socket read is a view of the bytes NIO received, not a copy
/// (a stream's hot path copies a packet's payload once, into what it hands its reader).
public struct UDXPacket: Sendable, Equatable {
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// Carries stream bytes; consumes one seq.
        public static let data = Flags(rawValue: 0b000001)
        /// The stream's last seq (a clean half-close); may ride on the last DATA packet.
        public static let end = Flags(rawValue: 0b000010)
        /// The body starts with selective-ack blocks.
        public static let sack = Flags(rawValue: 0b000100)
        /// An unordered datagram of the stream; consumes no seq.
        public static let message = Flags(rawValue: 0b001000)
        /// Resets the stream.
        public static let destroy = Flags(rawValue: 0b010000)
        /// Asks for an immediate ack (a keep-alive or a probe).
        public static let heartbeat = Flags(rawValue: 0b100000)
    }

    /// A packet that could not be read. `notUDX` is not an error of the peer: such datagrams (dht-rpc messages, the
    /// one-byte hole-punch probe) belong to the socket's message handler, as in libudx.
    public enum DecodeError: Error, Equatable, Sendable {
        /// Shorter than the header, or without UDX's magic and version.
        case notUDX
        /// The data offset points past the end of the datagram (libudx drops such packets).
        case dataOffsetBeyondPacket(offset: Int, body: Int)
    }

    public static let headerSize = 20
    public static let magic: UInt8 = 0xff
    public static let version: UInt8 = 1
    /// Most SACK blocks libudx sends in one ack (`UDX_MAX_SACKS`, src/internal.h).
    public static let maximumSACKBlocks = 50
    /// The stream data libudx puts in one packet before any MTU probing succeeded: its base MTU of 1200 bytes less
    /// the IPv4, UDP and UDX headers (`UDX_MTU_BASE`, `UDX_IPV4_HEADER_SIZE` in include/udx.h).
    public static let basePayload = 1200 - 48
    /// The most stream data a libudx peer puts in one packet (an MTU of 1500 found by probing, over IPv4).
    public static let maximumPayload = 1500 - 48

    /// A selective ack: seqs `start` up to (not including) `end` arrived, in 32-bit wrap-around order (so not a
    /// `Range`: a block may wrap past 2³²).
    public struct SACKBlock: Sendable, Hashable {
        public var start: UInt32
        public var end: UInt32
        public init(start: UInt32, end: UInt32) {
            self.start = start
            self.end = end
        }
    }

    public var flags: Flags
    /// Body bytes before the stream data (libudx writes 0; kept for what a future version may put there).
    public var dataOffset: UInt8
    /// The receiver's id for the stream (how its socket finds the stream).
    public var remoteID: UInt32
    /// How many bytes the sender can still take in.
    public var receiveWindow: UInt32
    public var sequence: UInt32
    /// The next seq the sender expects (everything before it arrived).
    public var acknowledgement: UInt32
    /// Everything after the header: SACK blocks and/or stream data or a message.
    public var body: ByteBuffer

    public init(
        flags: Flags, dataOffset: UInt8 = 0, remoteID: UInt32, receiveWindow: UInt32, sequence: UInt32,
        acknowledgement: UInt32, body: ByteBuffer
    ) {
        self.flags = flags
        self.dataOffset = dataOffset
        self.remoteID = remoteID
        self.receiveWindow = receiveWindow
        self.sequence = sequence
        self.acknowledgement = acknowledgement
        self.body = body
    }

    public init(
        flags: Flags, dataOffset: UInt8 = 0, remoteID: UInt32, receiveWindow: UInt32, sequence: UInt32,
        acknowledgement: UInt32, body: [UInt8] = []
    ) {
        self.init(
            flags: flags, dataOffset: dataOffset, remoteID: remoteID, receiveWindow: receiveWindow, sequence: sequence,
            acknowledgement: acknowledgement, body: ByteBuffer(bytes: body))
    }

    /// An ack as libudx sends one: type SACK when there are blocks (at most `maximumSACKBlocks` are written), data
    /// offset 0, the blocks as the body.
    public static func acknowledgement(
        remoteID: UInt32, receiveWindow: UInt32, sequence: UInt32, acknowledgement: UInt32, sacks: [SACKBlock] = []
    ) -> UDXPacket {
        var body = ByteBuffer()
        writeSACKBlocks(sacks, into: &body)
        return UDXPacket(
            flags: sacks.isEmpty ? [] : .sack, remoteID: remoteID, receiveWindow: receiveWindow, sequence: sequence,
            acknowledgement: acknowledgement, body: body)
    }

    /// Reads a datagram. Anything from 20 bytes up with UDX's magic and version is a stream packet; the flags are
    /// kept as sent (unknown bits included: libudx ignores them). The body is a slice of `buffer`, not a copy.
    public init(decoding buffer: ByteBuffer) throws(DecodeError) {
        let start = buffer.readerIndex
        guard buffer.readableBytes >= Self.headerSize, buffer.getInteger(at: start, as: UInt8.self) == Self.magic,
            buffer.getInteger(at: start + 1, as: UInt8.self) == Self.version,
            let flags = buffer.getInteger(at: start + 2, as: UInt8.self),
            let dataOffset = buffer.getInteger(at: start + 3, as: UInt8.self),
            let remoteID = buffer.getInteger(at: start + 4, endianness: .little, as: UInt32.self),
            let window = buffer.getInteger(at: start + 8, endianness: .little, as: UInt32.self),
            let sequence = buffer.getInteger(at: start + 12, endianness: .little, as: UInt32.self),
            let acknowledgement = buffer.getInteger(at: start + 16, endianness: .little, as: UInt32.self),
            let body = buffer.getSlice(at: start + Self.headerSize, length: buffer.readableBytes - Self.headerSize)
        else { throw .notUDX }
        guard Int(dataOffset) <= body.readableBytes else {
            throw .dataOffsetBeyondPacket(offset: Int(dataOffset), body: body.readableBytes)
        }
        self.init(
            flags: Flags(rawValue: flags), dataOffset: dataOffset, remoteID: remoteID, receiveWindow: window,
            sequence: sequence, acknowledgement: acknowledgement, body: body)
    }

    public init(decoding bytes: some Collection<UInt8>) throws(DecodeError) {
        try self.init(decoding: ByteBuffer(bytes: bytes))
    }

    /// The datagram: header, then body.
    public func encoded() -> [UInt8] {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return Array(buffer.readableBytesView)
    }

    public func write(into buffer: inout ByteBuffer) {
        Self.writeHeader(
            into: &buffer, flags: flags, dataOffset: dataOffset, remoteID: remoteID, receiveWindow: receiveWindow,
            sequence: sequence, acknowledgement: acknowledgement)
        buffer.writeImmutableBuffer(body)
    }

    /// Appends the 20-byte header (the one encoder of it: packets and a stream's outgoing datagrams both use it).
    static func writeHeader(
        into buffer: inout ByteBuffer, flags: Flags, dataOffset: UInt8 = 0, remoteID: UInt32, receiveWindow: UInt32,
        sequence: UInt32, acknowledgement: UInt32
    ) {
        // One 32-bit store for the four single bytes: magic, version, flags, data offset.
        let leading = UInt32(magic) | UInt32(version) << 8 | UInt32(flags.rawValue) << 16 | UInt32(dataOffset) << 24
        buffer.writeMultipleIntegers(
            leading, remoteID, receiveWindow, sequence, acknowledgement, endianness: .little)
    }

    /// Appends up to `maximumSACKBlocks` blocks as an ack's body.
    static func writeSACKBlocks(_ blocks: [SACKBlock], into buffer: inout ByteBuffer) {
        for block in blocks.prefix(maximumSACKBlocks) {
            buffer.writeMultipleIntegers(block.start, block.end, endianness: .little)
        }
    }

    /// The selective-ack blocks, read as libudx reads them: with the SACK flag, the first `dataOffset` body bytes when
    /// that is set and shorter than the body, else the whole body, as whole 8-byte blocks (a trailing partial block is
    /// ignored). Blocks are returned as sent; whether they make sense for a stream is the stream's to check.
    public var sackBlocks: [SACKBlock] {
        guard flags.contains(.sack) else { return [] }
        let count = body.readableBytes
        let length = dataOffset > 0 && Int(dataOffset) < count ? Int(dataOffset) : count
        let start = body.readerIndex
        return stride(from: 0, to: length / 8 * 8, by: 8).map { offset in
            SACKBlock(
                start: body.getInteger(at: start + offset, endianness: .little, as: UInt32.self) ?? 0,
                end: body.getInteger(at: start + offset + 4, endianness: .little, as: UInt32.self) ?? 0)
        }
    }

    /// The stream data (or message) this packet carries: the body after `dataOffset` (a slice, not a copy).
    public var payload: ByteBuffer {
        body.getSlice(at: body.readerIndex + Int(dataOffset), length: body.readableBytes - Int(dataOffset))
            ?? ByteBuffer()
    }
}
