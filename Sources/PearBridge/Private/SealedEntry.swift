import CompactEncoding
import Sodium

/// A block of a direct-message or private-room log: the entry sealed so only holders of the content key read it
/// (docs/protocol.md). `uint version (1) ‖ nonce (24) ‖ XChaCha20-Poly1305(key, nonce, entry, ad: NS ‖ writer key)`,
/// the nonce drawn at random (a log rebuilt after a loss never reuses one), the writer's key bound in so a block
/// cannot pass for another writer's. Pure.
public enum SealedEntry {
    public static let version: UInt64 = 1
    /// Bound into every seal with the writer's key: a sealed block means nothing in another kind of log.
    public static let associatedNamespace = DirectConversationKeys.namespace[2]

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Truncated, or a version this build does not know.
        case malformed
        /// The key is not the one it was sealed with, the writer is not the one it was sealed for, or it was altered.
        case cannotOpen

        public var description: String {
            switch self {
            case .malformed: "a sealed block that is truncated or of an unknown version"
            case .cannotOpen: "a sealed block that does not open with this conversation's key"
            }
        }
    }

    /// Seals `plaintext` for `writer`'s log; throws only for a key that is not 32 bytes.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], writer: [UInt8]) throws(SodiumError) -> [UInt8] {
        let nonce = RandomBytes.generate(count: XChaCha20Poly1305.nonceLength)
        let sealed = try XChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, associatedData: associatedNamespace + writer)
        var out = CompactByteWriter(capacity: 1 + nonce.count + sealed.count)
        out.writeUInt(version)
        return out.bytes + nonce + sealed
    }

    public static func open(_ block: [UInt8], key: [UInt8], writer: [UInt8]) throws(Failure) -> [UInt8] {
        var reader = CompactReader(block)
        guard let version = try? reader.readUInt(), version == Self.version,
            let nonce = try? reader.readFixed(length: XChaCha20Poly1305.nonceLength)
        else { throw .malformed }
        let sealed = reader.readRemaining()
        guard sealed.count >= XChaCha20Poly1305.tagLength else { throw .malformed }
        do {
            return try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: associatedNamespace + writer)
        } catch {
            throw .cannotOpen
        }
    }
}
