import CompactEncoding

/// blind-relay 1.6's messages (`blind-relay/index.js`, `m.pair` and `m.unpair`), on the protomux channel
/// "blind-relay" whose id is the public key of the peer that connected to the relay.
///
/// `pair`: a 7-bit bitfield (bit 0: the side whose relay this is, the initiator), the 32-byte pairing token, and the
/// UDX stream id to send to, with its first sequence number (always 0). A peer sends it with its own stream's id; the
/// relay answers each of the two with the id of the relay stream made for it.
public struct BlindRelayPair: Sendable, Hashable, CompactCodable {
    public var isInitiator: Bool
    public var token: [UInt8]
    public var id: UInt32
    public var seq: UInt64

    public init(isInitiator: Bool, token: [UInt8], id: UInt32, seq: UInt64 = 0) {
        self.isInitiator = isInitiator
        self.token = token
        self.id = id
        self.seq = seq
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt8(isInitiator ? 1 : 0)
        writer.writeFixed(token, length: 32)
        writer.writeUInt(UInt64(id))
        writer.writeUInt(seq)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        // compact-encoding-bitfield reads as a compact uint: one byte up to 0xfc, else a marker and 2, 4 or 8 bytes.
        isInitiator = try reader.readUInt() & 1 != 0
        token = try reader.readFixed(length: 32)
        let id = try reader.readUInt()
        guard id <= UInt64(UInt32.max) else { throw .invalidValue("stream id \(id)") }
        self.id = UInt32(id)
        seq = try reader.readUInt()
    }
}

/// `unpair`: an empty bitfield and the token of a pairing to cancel.
public struct BlindRelayUnpair: Sendable, Hashable, CompactCodable {
    public var token: [UInt8]

    public init(token: [UInt8]) { self.token = token }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt8(0)
        writer.writeFixed(token, length: 32)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        _ = try reader.readUInt()
        token = try reader.readFixed(length: 32)
    }
}

/// The channel and its message types.
public enum BlindRelayProtocol {
    public static let name = "blind-relay"
    public static let pairMessage: UInt64 = 0
    public static let unpairMessage: UInt64 = 1
}
