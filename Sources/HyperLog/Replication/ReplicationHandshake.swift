import CompactEncoding
import Sodium

/// The open message of a `hypercore/alpha` protomux channel (one channel per core, channel id = discovery key).
///
/// Layout (`hypercore` 11 `wire.handshake`): `uint flags` (bit 0: the sender serves seeks), `fixed32 capability`.
/// The capability proves the sender knows the core key and binds the channel to this very connection:
/// `BLAKE2b-256(key: secret-stream handshake hash, message: REPLICATE_<sender role> ‖ core key)`.
public struct ReplicationHandshake: Hashable, Sendable, CompactCodable {
    public var seeks: Bool
    public var capability: [UInt8]

    public init(seeks: Bool = true, capability: [UInt8]) {
        self.seeks = seeks
        self.capability = capability
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(seeks ? 1 : 0)
        writer.writeFixed(capability, length: 32)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        seeks = flags & 1 != 0
        capability = try reader.readFixed(length: 32)
    }

    /// The capability a side sends. `isInitiator` is the sender's role on the encrypted connection.
    public static func capability(isInitiator: Bool, key: [UInt8], handshakeHash: [UInt8]) throws(SodiumError)
        -> [UInt8]
    {
        let namespace = isInitiator ? HypercoreNamespace.replicateInitiator : HypercoreNamespace.replicateResponder
        return try BLAKE2b.hash(namespace + key, outputLength: 32, key: handshakeHash)
    }
}
