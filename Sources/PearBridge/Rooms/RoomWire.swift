import CompactEncoding

/// The `pearirc/room/v1` protomux channel: one per room a connection's two gateways share (channel id = room
/// topic). It only exchanges who writes in the room; the lines themselves travel on `hypercore/alpha` channels.
public enum RoomWire {
    public static let protocolName = "pearirc/room/v1"

    /// The channel's open handshake: `uint version (1)`, `fixed32 own writer key` (the sender's log for this
    /// room, so the receiver can tell a departed peer's lines from others').
    /// A private room's hello appends `fixed32 proof` (`PrivateRoomKeys.proof`): that its sender holds the room's root.
    public struct Hello: Hashable, Sendable, CompactCodable {
        public var ownWriter: [UInt8]
        public var proof: [UInt8]?

        public init(ownWriter: [UInt8], proof: [UInt8]? = nil) {
            self.ownWriter = ownWriter
            self.proof = proof
        }

        public func encode<W: CompactWriter>(to writer: inout W) {
            writer.writeUInt(1)
            writer.writeFixed(ownWriter, length: 32)
            if let proof { writer.writeFixed(proof, length: 32) }
        }

        public init(from reader: inout CompactReader) throws(CompactEncodingError) {
            let version = try reader.readUInt()
            guard version >= 1 else { throw .invalidValue("room hello version \(version)") }
            ownWriter = try reader.readFixed(length: 32)
            let rest = reader.readRemaining()
            // Later versions may append more fields; version 1 readers ignore them.
            proof = rest.count >= 32 ? Array(rest.prefix(32)) : nil
        }
    }

    /// Message type 0, `writers`: `array(fixed32)` of every writer key the sender knows for the room. Sent on
    /// open and whenever the sender learns new writers (gossip), so gateways in a line all meet.
    public struct Writers: Hashable, Sendable, CompactCodable {
        public static let type: UInt64 = 0
        public static let maximumCount = 4096

        public var keys: [[UInt8]]

        public init(keys: [[UInt8]]) { self.keys = keys }

        public func encode<W: CompactWriter>(to writer: inout W) {
            writer.writeArray(keys) { $0.writeFixed($1, length: 32) }
        }

        public init(from reader: inout CompactReader) throws(CompactEncodingError) {
            keys = try reader.readArray(minimumElementSize: 32, limit: Self.maximumCount) {
                (r: inout CompactReader) throws(CompactEncodingError) in try r.readFixed(length: 32)
            }
        }
    }
}
