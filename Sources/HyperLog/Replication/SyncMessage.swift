import CompactEncoding

/// `sync` (type 0): a peer's view of the core: its signed length and fork, the length it believes the remote has,
/// and what it is willing to do.
///
/// Layout: `uint flags` (1 canUpgrade, 2 uploading, 4 downloading, 8 hasManifest, 16 allowPush), `uint fork`,
/// `uint length`, `uint remoteLength`.
public struct SyncMessage: Hashable, Sendable, CompactCodable {
    public var fork: UInt64
    public var length: UInt64
    public var remoteLength: UInt64
    public var canUpgrade: Bool
    public var uploading: Bool
    public var downloading: Bool
    public var hasManifest: Bool
    public var allowPush: Bool

    public init(
        fork: UInt64, length: UInt64, remoteLength: UInt64, canUpgrade: Bool = true, uploading: Bool = true,
        downloading: Bool = true, hasManifest: Bool = false, allowPush: Bool = false
    ) {
        self.fork = fork
        self.length = length
        self.remoteLength = remoteLength
        self.canUpgrade = canUpgrade
        self.uploading = uploading
        self.downloading = downloading
        self.hasManifest = hasManifest
        self.allowPush = allowPush
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        var flags: UInt64 = 0
        if canUpgrade { flags |= 1 }
        if uploading { flags |= 2 }
        if downloading { flags |= 4 }
        if hasManifest { flags |= 8 }
        if allowPush { flags |= 16 }
        writer.writeUInt(flags)
        writer.writeUInt(fork)
        writer.writeUInt(length)
        writer.writeUInt(remoteLength)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        canUpgrade = flags & 1 != 0
        uploading = flags & 2 != 0
        downloading = flags & 4 != 0
        hasManifest = flags & 8 != 0
        allowPush = flags & 16 != 0
        fork = try reader.readUInt()
        length = try reader.readUInt()
        remoteLength = try reader.readUInt()
    }
}
