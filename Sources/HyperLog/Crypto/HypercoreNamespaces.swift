import Sodium

/// The six namespaces of `hypercore` 11 (`lib/caps.js`), in the reference's order.
public enum HypercoreNamespace {
    private static let all = HolepunchNamespace.derive("hypercore", count: 6)

    /// Prefix of the signed tree statement.
    public static let tree = all[0]
    /// Capability hash of the side that opened the connection.
    public static let replicateInitiator = all[1]
    /// Capability hash of the side that accepted the connection.
    public static let replicateResponder = all[2]
    /// Prefix of the manifest hash (which is the core key).
    public static let manifest = all[3]
    /// Namespace of the default signer.
    public static let defaultNamespace = all[4]
    /// Namespace of block encryption keys.
    public static let defaultEncryption = all[5]
}

/// The key every Hyperswarm peer announces instead of the core key itself: knowing it lets a peer find others
/// replicating a core without being able to read it. BLAKE2b-256 keyed with the core key over ASCII `hypercore`.
public enum DiscoveryKey {
    public static func of(_ key: [UInt8]) throws(SodiumError) -> [UInt8] {
        try SodiumError.checkLength("core key", key, 32)
        return try BLAKE2b.hash(Array("hypercore".utf8), outputLength: 32, key: key)
    }
}
