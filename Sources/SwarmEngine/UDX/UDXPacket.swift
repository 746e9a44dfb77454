/// One UDX datagram as libudx writes and reads it (`udx_write_header`, `process_packet` in src/udx.c, at the commit
/// udx-native 1.20.7 pins): a 20-byte header, then the body. The first step of the UDX transport (issue 15): a pure
/// value, no sockets.
///
/// Header: magic 0xff, version 1, type (bit flags), data offset (body bytes before the stream data), then four
/// little-endian 32-bit fields: the receiver's stream id, the sender's receive window in bytes, seq, and ack (the next
/// seq the sender expects). In a SACK packet the body starts with selective-ack blocks, pairs of little-endian
/// [start, end) seqs received out of order; libudx writes data offset 0 and reads the whole body as blocks then.
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
    public var body: [UInt8]

    public init(
        flags: Flags, dataOffset: UInt8 = 0, remoteID: UInt32, receiveWindow: UInt32, sequence: UInt32,
        acknowledgement: UInt32, body: [UInt8] = []
    ) {
        self.flags = flags
        self.dataOffset = dataOffset
        self.remoteID = remoteID
        self.receiveWindow = receiveWindow
        self.sequence = sequence
        self.acknowledgement = acknowledgement
        self.body = body
    }

    /// An ack as libudx sends one: type SACK when there are blocks (at most `maximumSACKBlocks` are written), data
    /// offset 0, the blocks as the body.
    public static func acknowledgement(
        remoteID: UInt32, receiveWindow: UInt32, sequence: UInt32, acknowledgement: UInt32, sacks: [SACKBlock] = []
    ) -> UDXPacket {
        var body: [UInt8] = []
        body.reserveCapacity(min(sacks.count, maximumSACKBlocks) * 8)
        for block in sacks.prefix(maximumSACKBlocks) {
            appendLittleEndian(block.start, to: &body)
            appendLittleEndian(block.end, to: &body)
        }
        return UDXPacket(
            flags: sacks.isEmpty ? [] : .sack, remoteID: remoteID, receiveWindow: receiveWindow, sequence: sequence,
            acknowledgement: acknowledgement, body: body)
    }

    /// Reads a datagram. Anything from 20 bytes up with UDX's magic and version is a stream packet; the flags are
    /// kept as sent (unknown bits included: libudx ignores them).
    public init(decoding bytes: some Collection<UInt8>) throws(DecodeError) {
        let bytes = Array(bytes)
        guard bytes.count >= Self.headerSize, bytes[0] == Self.magic, bytes[1] == Self.version else { throw .notUDX }
        let body = Array(bytes[Self.headerSize...])
        guard Int(bytes[3]) <= body.count else { throw .dataOffsetBeyondPacket(offset: Int(bytes[3]), body: body.count) }
        self.init(
            flags: Flags(rawValue: bytes[2]), dataOffset: bytes[3], remoteID: Self.littleEndian(bytes, at: 4),
            receiveWindow: Self.littleEndian(bytes, at: 8), sequence: Self.littleEndian(bytes, at: 12),
            acknowledgement: Self.littleEndian(bytes, at: 16), body: body)
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerSize + body.count)
        Self.writeHeader(
            into: &bytes, flags: flags, dataOffset: dataOffset, remoteID: remoteID, receiveWindow: receiveWindow,
            sequence: sequence, acknowledgement: acknowledgement)
        bytes += body
        return bytes
    }

    /// Appends the 20-byte header (the one encoder of it: packets and a stream's outgoing headers both use it).
    static func writeHeader(
        into bytes: inout [UInt8], flags: Flags, dataOffset: UInt8 = 0, remoteID: UInt32, receiveWindow: UInt32,
        sequence: UInt32, acknowledgement: UInt32
    ) {
        bytes += [magic, version, flags.rawValue, dataOffset]
        for field in [remoteID, receiveWindow, sequence, acknowledgement] { appendLittleEndian(field, to: &bytes) }
    }

    /// The selective-ack blocks, read as libudx reads them: with the SACK flag, the first `dataOffset` body bytes when
    /// that is set and shorter than the body, else the whole body, as whole 8-byte blocks (a trailing partial block is
    /// ignored). Blocks are returned as sent; whether they make sense for a stream is the stream's to check.
    public var sackBlocks: [SACKBlock] {
        guard flags.contains(.sack) else { return [] }
        let length = dataOffset > 0 && Int(dataOffset) < body.count ? Int(dataOffset) : body.count
        return stride(from: 0, to: length / 8 * 8, by: 8).map { offset in
            SACKBlock(start: Self.littleEndian(body, at: offset), end: Self.littleEndian(body, at: offset + 4))
        }
    }

    /// The stream data (or message) this packet carries: the body after `dataOffset`.
    public var payload: ArraySlice<UInt8> { body[Int(dataOffset)...] }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }

    private static func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}
