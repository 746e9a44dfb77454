import Sodium

/// The three Hypercore hash constructions (`hypercore-crypto` 3.6 `data`, `parent`, `tree`), all BLAKE2b-256 with a
/// one-byte type prefix so a leaf can never be mistaken for a parent or a root list.
public enum MerkleHash {
    static let leafType: UInt8 = 0
    static let parentType: UInt8 = 1
    static let rootType: UInt8 = 2

    /// `H(0x00 ‖ u64le(block.count) ‖ block)`.
    public static func leaf(_ block: [UInt8]) -> [UInt8] {
        // One contiguous preimage on the stack and a one-shot hash: this runs once per appended or received block.
        block.withUnsafeBytes { body in
            withUnsafeTemporaryAllocation(byteCount: 9 + body.count, alignment: 8) { preimage in
                preimage[0] = leafType
                preimage.storeBytes(of: UInt64(body.count).littleEndian, toByteOffset: 1, as: UInt64.self)
                if body.count > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: preimage[9...]).copyMemory(from: body)
                }
                return BLAKE2b.hash256(UnsafeRawBufferPointer(preimage))
            }
        }
    }

    /// The leaf node of block `blockIndex`.
    public static func leafNode(blockIndex: UInt64, block: [UInt8]) -> TreeNode {
        TreeNode(index: 2 * blockIndex, size: UInt64(block.count), hash: leaf(block))
    }

    /// `H(0x01 ‖ u64le(left.size + right.size) ‖ left.hash ‖ right.hash)`, left being the lower index.
    public static func parent(_ a: TreeNode, _ b: TreeNode) -> TreeNode {
        let (left, right) = a.index < b.index ? (a, b) : (b, a)
        let size = left.size &+ right.size
        let hash = withUnsafeTemporaryAllocation(byteCount: 73, alignment: 8) { preimage in
            preimage.initializeMemory(as: UInt8.self, repeating: 0)
            preimage[0] = parentType
            preimage.storeBytes(of: size.littleEndian, toByteOffset: 1, as: UInt64.self)
            left.hash.withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: preimage[9..<41]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes.prefix(32)))
            }
            right.hash.withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: preimage[41..<73]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes.prefix(32)))
            }
            return BLAKE2b.hash256(UnsafeRawBufferPointer(preimage))
        }
        return TreeNode(index: FlatTree.parent(left.index), size: size, hash: hash)
    }

    /// `H(0x02 ‖ for each root: hash ‖ u64le(index) ‖ u64le(size))`: what the signature covers.
    public static func tree(roots: [TreeNode]) -> [UInt8] {
        var hasher = BLAKE2b.Hasher.unkeyed256()
        hasher.update(byte: rootType)
        for root in roots {
            hasher.update(root.hash)
            hasher.update(littleEndian64(root.index))
            hasher.update(littleEndian64(root.size))
        }
        return hasher.finalize()
    }

    @inline(__always)
    static func littleEndian64(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
