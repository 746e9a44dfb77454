import Foundation
import CompactEncoding
import HyperLog

/// An invite to a private room, as a user pastes it: `pearirc:` followed by z-base-32 (as Holepunch tools show keys)
/// of `uint version (1) ‖ string channel name ‖ fixed32 root`. It carries the derived root, never the secret.
public struct RoomInvite: Sendable, Equatable, CustomStringConvertible {
    public static let prefix = "pearirc:"
    public static let version: UInt64 = 1
    /// Longest channel name an invite may carry (IRC channel names are far shorter).
    public static let maximumNameLength = 200

    public var channel: String
    public var root: [UInt8]

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notAnInvite
        case unknownVersion(UInt64)
        case malformed

        public var description: String {
            switch self {
            case .notAnInvite: "that is not a PearIRC invite (it starts with \(RoomInvite.prefix))"
            case .unknownVersion(let version): "that invite is of version \(version), newer than this gateway knows"
            case .malformed: "that invite is damaged (was it copied whole?)"
            }
        }
    }

    public init(channel: String, root: [UInt8]) {
        self.channel = channel
        self.root = root
    }

    public init(parsing text: String) throws(Failure) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix(Self.prefix) else { throw .notAnInvite }
        guard let bytes = ZBase32.decode(String(trimmed.dropFirst(Self.prefix.count)).lowercased()) else { throw .malformed }
        var reader = CompactReader(bytes)
        guard let version = try? reader.readUInt() else { throw .malformed }
        guard version == Self.version else { throw .unknownVersion(version) }
        guard let name = try? reader.readString(limit: Self.maximumNameLength), !name.isEmpty,
            let root = try? reader.readFixed(length: 32), reader.readRemaining().isEmpty
        else { throw .malformed }
        self.init(channel: name, root: root)
    }

    public var description: String {
        var writer = CompactByteWriter()
        writer.writeUInt(Self.version)
        writer.writeString(channel)
        writer.writeFixed(root, length: 32)
        return Self.prefix + ZBase32.encode(writer.bytes)
    }
}
