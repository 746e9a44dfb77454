import Sodium

/// Deterministic key pairs for named logs, as `corestore` 7 derives them from its primary key.
///
/// `seed = BLAKE2b-256(key: primaryKey, message: CORESTORE_NS ‖ namespace ‖ UTF-8 name)`, then an Ed25519 key pair
/// from the seed. The root namespace is 32 zero bytes and `store.namespace(x)` is `BLAKE2b-256(parent ‖ UTF-8 x)`.
/// The same primary key therefore always yields the same logs, which is what lets a restarted node find its own
/// logs again without storing every secret key.
public enum CorestoreKeyDerivation {
    /// `namespace("corestore", 1)[0]`.
    public static let corestoreNamespace = HolepunchNamespace.derive("corestore", count: 1)[0]
    /// The namespace of a store that has not been namespaced.
    public static let rootNamespace = [UInt8](repeating: 0, count: 32)
    public static let primaryKeyLength = 32

    /// The namespace of `parent.namespace(name)`.
    public static func childNamespace(of parent: [UInt8], name: String) -> [UInt8] {
        BLAKE2b.hash256(parent + Array(name.utf8))
    }

    /// The namespace reached by applying `path` from the root (`store.namespace(a).namespace(b)…`).
    public static func namespace(path: [String]) -> [UInt8] {
        path.reduce(rootNamespace) { childNamespace(of: $0, name: $1) }
    }

    public static func seed(primaryKey: SecureBytes, namespace: [UInt8], name: String) throws(SodiumError) -> SecureBytes {
        try SodiumError.checkLength("corestore primary key", 0..<primaryKey.count, primaryKeyLength)
        try SodiumError.checkLength("corestore namespace", namespace, 32)
        var digest = try BLAKE2b.hash(corestoreNamespace + namespace + Array(name.utf8), outputLength: 32, key: primaryKey.bytes)
        defer { ConstantTime.zero(&digest) }
        return SecureBytes(digest)
    }

    public static func keyPair(primaryKey: SecureBytes, namespace: [UInt8], name: String) throws(SodiumError)
        -> Ed25519.KeyPair
    {
        let seed = try seed(primaryKey: primaryKey, namespace: namespace, name: name)
        return try Ed25519.keyPair(seed: seed.bytes)
    }
}
