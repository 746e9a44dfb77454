/// Flat-tree index arithmetic: a binary tree laid out in one array, leaves (blocks) at even indices.
///
/// Matches `mafintosh/flat-tree` 1.12. Block `i` is at index `2i` (depth 0); a parent at depth `d` and offset `o` is
/// at `(o << (d + 1)) | ((1 << d) - 1)`. All functions are total on `UInt64` indices that a real log can reach
/// (below 2^62); none of them allocate except `fullRoots`.
public enum FlatTree {
    /// The index of the node at `depth` and `offset`.
    @inlinable public static func index(depth: UInt64, offset: UInt64) -> UInt64 {
        (offset << (depth + 1)) | ((1 << depth) - 1)
    }

    /// Depth of a node: the number of trailing one bits of its index.
    @inlinable public static func depth(_ index: UInt64) -> UInt64 {
        UInt64((~index).trailingZeroBitCount)
    }

    /// Position of a node among the nodes of its depth.
    @inlinable public static func offset(_ index: UInt64) -> UInt64 {
        index >> (depth(index) + 1)
    }

    @inlinable public static func parent(_ index: UInt64) -> UInt64 {
        let depth = depth(index)
        return Self.index(depth: depth + 1, offset: Self.offset(index) >> 1)
    }

    @inlinable public static func sibling(_ index: UInt64) -> UInt64 {
        let depth = depth(index)
        return Self.index(depth: depth, offset: Self.offset(index) ^ 1)
    }

    /// The parent's other child, i.e. the sibling of the parent ("uncle").
    @inlinable public static func uncle(_ index: UInt64) -> UInt64 {
        sibling(parent(index))
    }

    /// Left and right children, or nil for a leaf.
    @inlinable public static func children(_ index: UInt64) -> (left: UInt64, right: UInt64)? {
        guard index & 1 == 1 else { return nil }
        let depth = depth(index), offset = offset(index) * 2
        return (Self.index(depth: depth - 1, offset: offset), Self.index(depth: depth - 1, offset: offset + 1))
    }

    @inlinable public static func leftChild(_ index: UInt64) -> UInt64? { children(index)?.left }

    @inlinable public static func rightChild(_ index: UInt64) -> UInt64? { children(index)?.right }

    /// The leftmost leaf under a node.
    @inlinable public static func leftSpan(_ index: UInt64) -> UInt64 {
        let depth = depth(index)
        return depth == 0 ? index : offset(index) * (2 << depth)
    }

    /// The rightmost leaf under a node.
    @inlinable public static func rightSpan(_ index: UInt64) -> UInt64 {
        let depth = depth(index)
        return depth == 0 ? index : (offset(index) + 1) * (2 << depth) - 2
    }

    /// Number of nodes (leaves and parents) under and including a node.
    @inlinable public static func count(_ index: UInt64) -> UInt64 { (2 << depth(index)) - 1 }

    /// Number of leaves under a node.
    @inlinable public static func countLeaves(_ index: UInt64) -> UInt64 { 1 << depth(index) }

    /// The first leaf to the right of everything under a node.
    @inlinable public static func nextLeaf(_ index: UInt64) -> UInt64 { rightSpan(index) + 2 }

    /// The roots of the Merkle forest over the leaves before the leaf index `index` (= 2 × number of blocks),
    /// left to right. For 3 blocks (`index` 6) that is `[1, 4]`.
    public static func fullRoots(_ index: UInt64) -> [UInt64] {
        precondition(index & 1 == 0, "fullRoots takes a leaf index (2 × block count)")
        var roots: [UInt64] = []
        var remaining = index / 2
        var offset: UInt64 = 0
        while remaining > 0 {
            // The largest power of two not above what is left is the next (leftmost) full subtree.
            let factor: UInt64 = 1 << (63 - UInt64(remaining.leadingZeroBitCount))
            roots.append(offset + factor - 1)
            offset += 2 * factor
            remaining -= factor
        }
        return roots
    }

    /// Roots for a log of `length` blocks.
    @inlinable public static func roots(forLength length: UInt64) -> [UInt64] {
        fullRoots(2 * length)
    }
}
