import Sodium

/// What HyperDHT signs (hyperdht 6.33 `lib/persistent.js`, `lib/constants.js`): an announce, an unannounce and a
/// mutable put, each under its own namespace, so that a signature for one can never pass for another.
public enum HyperDHTSignatures {
    /// `crypto.namespace("hyperswarm/dht", [4, 5, 6, 0, 1, 10])`: the commands' numbers pick the entries.
    public static let announceNamespace = namespace(4)
    public static let unannounceNamespace = namespace(5)
    public static let mutablePutNamespace = namespace(6)
    public static let peerHandshakeNamespace = namespace(0)
    public static let peerHolepunchNamespace = namespace(1)
    public static let pluginNamespace = namespace(10)

    static func namespace(_ index: UInt8) -> [UInt8] {
        BLAKE2b.hash256(BLAKE2b.hash256(Array("hyperswarm/dht".utf8)) + [index])
    }

    /// `annSignable`: the namespace, then BLAKE2b-256 of target ‖ the storing node's id ‖ the token it handed out
    /// ‖ the encoded peer record ‖ the refresh token (or nothing). Binding the node's id and token makes a signed
    /// announce good for that node only, and only while the token lasts.
    public static func announceSignable(
        target: [UInt8], nodeID: [UInt8], token: [UInt8], peer: HyperDHTPeer, refresh: [UInt8]?, unannounce: Bool = false
    ) -> [UInt8] {
        let hash = BLAKE2b.hash256(target + nodeID + token + peer.compactEncoded() + (refresh ?? []))
        return (unannounce ? unannounceNamespace : announceNamespace) + hash
    }

    /// The namespace, then BLAKE2b-256 of the encoded `{seq, value}`.
    public static func mutableSignable(seq: UInt64, value: [UInt8]) -> [UInt8] {
        mutablePutNamespace + BLAKE2b.hash256(HyperDHTMutableSignable(seq: seq, value: value).compactEncoded())
    }

    /// An immutable value is stored at BLAKE2b-256 of itself; a mutable record at BLAKE2b-256 of its public key.
    public static func immutableTarget(_ value: [UInt8]) -> [UInt8] { BLAKE2b.hash256(value) }
    public static func mutableTarget(_ publicKey: [UInt8]) -> [UInt8] { BLAKE2b.hash256(publicKey) }
}
