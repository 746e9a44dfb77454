import CompactEncoding

/// `data` (type 3): the answer to a request, carrying a block and/or nodes with the Merkle proof that ties them to
/// a signed tree, and optionally an upgrade to a newer signed length.
///
/// Layout: `uint flags` (1 block, 2 hash, 4 seek, 8 upgrade, 16 manifest), `uint request`, `uint fork`, then the
/// present parts in that order: block = `uint index, buffer value, array(node) nodes`; hash = `uint index,
/// array(node) nodes`; seek = `uint bytes, array(node) nodes`; upgrade = `uint start, uint length, array(node)
/// nodes, array(node) additionalNodes, buffer signature`; manifest = the manifest encoding. A node is
/// `uint index, uint size, fixed32 hash`.
public struct DataMessage: Hashable, Sendable, CompactCodable {
    public struct BlockProof: Hashable, Sendable {
        public var index: UInt64
        public var value: [UInt8]
        public var nodes: [TreeNode]
        public init(index: UInt64, value: [UInt8], nodes: [TreeNode]) {
            self.index = index
            self.value = value
            self.nodes = nodes
        }
    }
    public struct HashProof: Hashable, Sendable {
        public var index: UInt64
        public var nodes: [TreeNode]
        public init(index: UInt64, nodes: [TreeNode]) {
            self.index = index
            self.nodes = nodes
        }
    }
    public struct SeekProof: Hashable, Sendable {
        public var bytes: UInt64
        public var nodes: [TreeNode]
        public init(bytes: UInt64, nodes: [TreeNode]) {
            self.bytes = bytes
            self.nodes = nodes
        }
    }
    public struct UpgradeProof: Hashable, Sendable {
        public var start: UInt64
        public var length: UInt64
        public var nodes: [TreeNode]
        public var additionalNodes: [TreeNode]
        public var signature: [UInt8]
        public init(start: UInt64, length: UInt64, nodes: [TreeNode], additionalNodes: [TreeNode], signature: [UInt8]) {
            self.start = start
            self.length = length
            self.nodes = nodes
            self.additionalNodes = additionalNodes
            self.signature = signature
        }
    }

    /// Proof arrays are bounded by the tree height (a log below 2^62 blocks needs fewer than 64 per part).
    static let maximumNodes = 128
    /// A block larger than this is refused before allocation.
    public static let maximumBlockSize = 16 * 1024 * 1024

    public var request: UInt64
    public var fork: UInt64
    public var block: BlockProof?
    public var hash: HashProof?
    public var seek: SeekProof?
    public var upgrade: UpgradeProof?
    public var manifest: Manifest?

    public init(
        request: UInt64, fork: UInt64, block: BlockProof? = nil, hash: HashProof? = nil, seek: SeekProof? = nil,
        upgrade: UpgradeProof? = nil, manifest: Manifest? = nil
    ) {
        self.request = request
        self.fork = fork
        self.block = block
        self.hash = hash
        self.seek = seek
        self.upgrade = upgrade
        self.manifest = manifest
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        var flags: UInt64 = 0
        if block != nil { flags |= 1 }
        if hash != nil { flags |= 2 }
        if seek != nil { flags |= 4 }
        if upgrade != nil { flags |= 8 }
        if manifest != nil { flags |= 16 }
        writer.writeUInt(flags)
        writer.writeUInt(request)
        writer.writeUInt(fork)
        if let block {
            writer.writeUInt(block.index)
            writer.writeBuffer(block.value)
            writer.writeArray(block.nodes) { $0.write($1) }
        }
        if let hash {
            writer.writeUInt(hash.index)
            writer.writeArray(hash.nodes) { $0.write($1) }
        }
        if let seek {
            writer.writeUInt(seek.bytes)
            writer.writeArray(seek.nodes) { $0.write($1) }
        }
        if let upgrade {
            writer.writeUInt(upgrade.start)
            writer.writeUInt(upgrade.length)
            writer.writeArray(upgrade.nodes) { $0.write($1) }
            writer.writeArray(upgrade.additionalNodes) { $0.write($1) }
            writer.writeBuffer(upgrade.signature)
        }
        if let manifest { writer.write(manifest) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        request = try reader.readUInt()
        fork = try reader.readUInt()
        if flags & 1 != 0 {
            block = BlockProof(
                index: try reader.readUInt(), value: try reader.readBuffer(limit: Self.maximumBlockSize),
                nodes: try Self.readNodes(&reader))
        }
        if flags & 2 != 0 { hash = HashProof(index: try reader.readUInt(), nodes: try Self.readNodes(&reader)) }
        if flags & 4 != 0 { seek = SeekProof(bytes: try reader.readUInt(), nodes: try Self.readNodes(&reader)) }
        if flags & 8 != 0 {
            upgrade = UpgradeProof(
                start: try reader.readUInt(), length: try reader.readUInt(), nodes: try Self.readNodes(&reader),
                additionalNodes: try Self.readNodes(&reader), signature: try reader.readBuffer(limit: 4096))
        }
        if flags & 16 != 0 { manifest = try reader.read(Manifest.self) }
    }

    static func readNodes(_ reader: inout CompactReader) throws(CompactEncodingError) -> [TreeNode] {
        try reader.readArray(minimumElementSize: 34, limit: maximumNodes) {
            (r: inout CompactReader) throws(CompactEncodingError) in try r.read(TreeNode.self)
        }
    }
}
