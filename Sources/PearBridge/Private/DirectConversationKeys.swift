import HyperLog
import Sodium

/// The secrets of a direct-message conversation between two identities (docs/protocol.md, "Direct messages"):
/// derived from the Diffie-Hellman of the two identity keys, so both sides compute the same values and nobody else
/// can, not even a gateway that knows both public keys.
///
/// `root = BLAKE2b-256(key: DH(A, B), NS[0] ‖ lo ‖ hi)`, then the DHT topic and channel id, the content key and the
/// name of each side's log, each `BLAKE2b-256(NS[i] ‖ root)`, with `NS = namespace("pearirc/dm", 4)` and `lo ‖ hi`
/// the two public keys in byte order.
public struct DirectConversationKeys: Sendable, Equatable {
    public static let namespace = HolepunchNamespace.derive("pearirc/dm", count: 4)

    /// The other identity.
    public let counterpart: [UInt8]
    /// Where the two announce and look each other up, and the id of their `pearirc/dm/v1` channel.
    public let topic: [UInt8]
    /// What seals every block of both logs (`SealedEntry`).
    public let contentKey: [UInt8]
    /// Our log of the conversation in our store.
    public let logName: String

    public enum Failure: Error, Equatable {
        /// Not a valid identity key (not a point on the curve), or our own.
        case invalidCounterpart
    }

    public init(ourKeyPair: Ed25519.KeyPair, counterpart: [UInt8]) throws(Failure) {
        guard counterpart.count == 32, counterpart != ourKeyPair.publicKey,
            let shared = try? Ed25519.diffieHellman(keyPair: ourKeyPair, remotePublicKey: counterpart),
            shared.contains(where: { $0 != 0 })
        else { throw .invalidCounterpart }
        let (lo, hi) = ourKeyPair.publicKey.lexicographicallyPrecedes(counterpart)
            ? (ourKeyPair.publicKey, counterpart) : (counterpart, ourKeyPair.publicKey)
        guard let root = try? BLAKE2b.hash(Self.namespace[0] + lo + hi, key: shared) else { throw .invalidCounterpart }
        self.counterpart = counterpart
        topic = BLAKE2b.hash256(Self.namespace[1] + root)
        contentKey = BLAKE2b.hash256(Self.namespace[2] + root)
        logName = "dm/" + ZBase32.encode(BLAKE2b.hash256(Self.namespace[3] + root))
    }
}
