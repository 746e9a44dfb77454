import CompactEncoding
import Sodium

/// A dht-rpc node id: BLAKE2b-256 of the node's public address as 6 bytes (`ipv4Address`: the four address bytes,
/// then the port little-endian), as dht-rpc's `peer.id`. Binding the id to the address is what keeps a node from
/// choosing where it sits in the keyspace: a receiver recomputes the id from the datagram's source and treats an id
/// that does not match as absent.
public enum DHTNodeID {
    public static let length = 32

    public static func of(_ endpoint: IPv4Endpoint) -> [UInt8] {
        BLAKE2b.hash256(endpoint.compactEncoded())
    }

    /// The id a datagram from `source` may carry: `claimed` when it is that address's id, else nil.
    public static func validated(_ claimed: [UInt8]?, from source: IPv4Endpoint) -> [UInt8]? {
        guard let claimed, claimed == of(source) else { return nil }
        return claimed
    }
}
