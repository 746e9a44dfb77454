import HyperLog
import Sodium

/// Binds a room writer log to the person behind it.
///
/// Every room has its own writer log per user (a named log derived from the room topic), so without more, the same
/// person in two rooms would look like two strangers with the same nick. The first entry a gateway writes to a
/// room log is an `identity` entry whose text is `z-base-32(identity public key ‖ signature)`, the signature being
/// the identity's Ed25519 signature of `"pearirc/writer-identity/v1" ‖ room topic ‖ writer key`. The entry is signed
/// by the writer log like every entry, so the binding holds both ways; it cannot be replayed for another room or
/// another log. Gateways that do not know the kind skip it.
public enum WriterIdentity {
    static let context = Array("pearirc/writer-identity/v1".utf8)

    static func signable(topic: RoomTopic, writer: [UInt8]) -> [UInt8] {
        context + topic.bytes + writer
    }

    /// The text of the `identity` entry `keyPair` writes to its log `writer` in room `topic`.
    public static func entryText(identity keyPair: Ed25519.KeyPair, topic: RoomTopic, writer: [UInt8]) -> String {
        ZBase32.encode(keyPair.publicKey + Ed25519.sign(signable(topic: topic, writer: writer), keyPair: keyPair))
    }

    /// The identity an `identity` entry proves for `writer` in `topic`, or nil when it proves nothing (malformed,
    /// or signed for another room or log, or by another key).
    public static func verify(entryText: String, topic: RoomTopic, writer: [UInt8]) -> [UInt8]? {
        guard let bytes = ZBase32.decode(entryText), bytes.count == 32 + 64 else { return nil }
        let identity = Array(bytes[0..<32]), signature = Array(bytes[32...])
        guard Ed25519.verify(signature: signature, message: signable(topic: topic, writer: writer), publicKey: identity)
        else { return nil }
        return identity
    }
}
