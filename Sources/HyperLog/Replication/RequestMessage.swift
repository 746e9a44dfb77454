import CompactEncoding

/// `request` (type 1): ask for a block, a tree node, a byte seek and/or an upgrade, with proof.
///
/// Layout: `uint flags` (1 block, 2 hash, 4 seek, 8 upgrade, 16 manifest, 32 priority), `uint id`, `uint fork`,
/// then present parts in that order: block/hash = `uint index, uint nodes` (how many proof nodes the requester
/// already has up the tree, i.e. may be skipped), seek = `uint bytes, uint padding`, upgrade = `uint start,
/// uint length`, priority = `uint`. The manifest flag carries no payload.
public struct RequestMessage: Hashable, Sendable, CompactCodable {
    public struct Node: Hashable, Sendable {
        public var index: UInt64
        public var nodes: UInt64
        public init(index: UInt64, nodes: UInt64) {
            self.index = index
            self.nodes = nodes
        }
    }
    public struct Seek: Hashable, Sendable {
        public var bytes: UInt64
        public var padding: UInt64
        public init(bytes: UInt64, padding: UInt64) {
            self.bytes = bytes
            self.padding = padding
        }
    }
    public struct Upgrade: Hashable, Sendable {
        public var start: UInt64
        public var length: UInt64
        public init(start: UInt64, length: UInt64) {
            self.start = start
            self.length = length
        }
    }

    public var id: UInt64
    public var fork: UInt64
    public var block: Node?
    public var hash: Node?
    public var seek: Seek?
    public var upgrade: Upgrade?
    public var manifest: Bool
    public var priority: UInt64

    public init(
        id: UInt64, fork: UInt64, block: Node? = nil, hash: Node? = nil, seek: Seek? = nil, upgrade: Upgrade? = nil,
        manifest: Bool = false, priority: UInt64 = 0
    ) {
        self.id = id
        self.fork = fork
        self.block = block
        self.hash = hash
        self.seek = seek
        self.upgrade = upgrade
        self.manifest = manifest
        self.priority = priority
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        var flags: UInt64 = 0
        if block != nil { flags |= 1 }
        if hash != nil { flags |= 2 }
        if seek != nil { flags |= 4 }
        if upgrade != nil { flags |= 8 }
        if manifest { flags |= 16 }
        if priority != 0 { flags |= 32 }
        writer.writeUInt(flags)
        writer.writeUInt(id)
        writer.writeUInt(fork)
        if let block {
            writer.writeUInt(block.index)
            writer.writeUInt(block.nodes)
        }
        if let hash {
            writer.writeUInt(hash.index)
            writer.writeUInt(hash.nodes)
        }
        if let seek {
            writer.writeUInt(seek.bytes)
            writer.writeUInt(seek.padding)
        }
        if let upgrade {
            writer.writeUInt(upgrade.start)
            writer.writeUInt(upgrade.length)
        }
        if priority != 0 { writer.writeUInt(priority) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        id = try reader.readUInt()
        fork = try reader.readUInt()
        block = flags & 1 != 0 ? Node(index: try reader.readUInt(), nodes: try reader.readUInt()) : nil
        hash = flags & 2 != 0 ? Node(index: try reader.readUInt(), nodes: try reader.readUInt()) : nil
        seek = flags & 4 != 0 ? Seek(bytes: try reader.readUInt(), padding: try reader.readUInt()) : nil
        upgrade = flags & 8 != 0 ? Upgrade(start: try reader.readUInt(), length: try reader.readUInt()) : nil
        manifest = flags & 16 != 0
        priority = flags & 32 != 0 ? try reader.readUInt() : 0
    }
}
