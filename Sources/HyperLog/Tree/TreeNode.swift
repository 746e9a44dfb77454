/// One node of a Hypercore Merkle tree: its flat-tree index, the number of block bytes under it, and its hash.
public struct TreeNode: Hashable, Sendable {
    public var index: UInt64
    public var size: UInt64
    /// 32-byte BLAKE2b hash.
    public var hash: [UInt8]

    public init(index: UInt64, size: UInt64, hash: [UInt8]) {
        self.index = index
        self.size = size
        self.hash = hash
    }
}
