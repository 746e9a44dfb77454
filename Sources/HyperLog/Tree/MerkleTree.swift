/// The Merkle forest of a Hypercore log as a pure value: the nodes known, the current roots, length, byte length
/// and fork id. No I/O; storage and networking feed it and persist what it returns.
///
/// A writer knows every node. A replica knows the roots of the latest verified upgrade plus whatever nodes came
/// with the proofs it verified, and fills in the rest as blocks arrive.
public struct MerkleTree: Sendable {
    public private(set) var length: UInt64 = 0
    public private(set) var byteLength: UInt64 = 0
    public private(set) var fork: UInt64 = 0
    /// Roots of the forest for `length`, left to right (`FlatTree.roots(forLength:)` gives their indices).
    public private(set) var roots: [TreeNode] = []
    /// Every node known, by flat-tree index.
    public private(set) var nodes: [UInt64: TreeNode] = [:]

    public init() {}

    /// Rebuilds a tree from stored nodes: the roots for `length` must all be present.
    public init(length: UInt64, fork: UInt64, nodes: [UInt64: TreeNode]) throws(HyperLogError) {
        var roots: [TreeNode] = []
        for index in FlatTree.roots(forLength: length) {
            guard let root = nodes[index] else { throw .missingNode(index: index) }
            roots.append(root)
        }
        self.length = length
        self.fork = fork
        self.roots = roots
        self.nodes = nodes
        self.byteLength = roots.reduce(0) { $0 + $1.size }
    }

    /// The hash the writer signs over (with key, length and fork).
    public var treeHash: [UInt8] { MerkleHash.tree(roots: roots) }

    public func node(at index: UInt64) -> TreeNode? { nodes[index] }

    /// Appends blocks as leaves and returns every node the append created (leaves and parents, in creation order),
    /// which is exactly what storage must persist.
    /// With `cacheNodes` false only the roots are kept in memory (the caller persists the returned nodes).
    @discardableResult
    public mutating func append(_ blocks: [[UInt8]], cacheNodes: Bool = true) -> [TreeNode] {
        var created: [TreeNode] = []
        created.reserveCapacity(blocks.count * 2)
        for block in blocks {
            let leaf = MerkleHash.leafNode(blockIndex: length, block: block)
            created.append(leaf)
            if cacheNodes { nodes[leaf.index] = leaf }
            roots.append(leaf)
            length += 1
            byteLength += leaf.size
            // Merge while the two rightmost roots are siblings: the forest keeps one full tree per set bit.
            while roots.count >= 2 {
                let right = roots[roots.count - 1], left = roots[roots.count - 2]
                guard FlatTree.sibling(left.index) == right.index, left.index < right.index else { break }
                let parent = MerkleHash.parent(left, right)
                roots.removeLast(2)
                roots.append(parent)
                if cacheNodes { nodes[parent.index] = parent }
                created.append(parent)
            }
        }
        return created
    }

    mutating func replaceNodes(with nodes: [UInt64: TreeNode]) {
        self.nodes = nodes
    }

    /// Adds nodes that a verified proof supplied (a replica's tree fills in this way).
    mutating func insert(verified: [TreeNode]) {
        for node in verified { nodes[node.index] = node }
    }

    /// Moves the tree to a newer, verified state: new roots for a new length (and possibly a new fork).
    mutating func upgrade(length: UInt64, fork: UInt64, roots: [TreeNode]) {
        self.length = length
        self.fork = fork
        self.roots = roots
        self.byteLength = roots.reduce(0) { $0 + $1.size }
        insert(verified: roots)
    }

    /// Cuts the tree back to `newLength` blocks and bumps the fork id. Nodes that cover blocks past the new end
    /// are forgotten; the new roots are recomputed from the nodes that remain.
    public mutating func truncate(to newLength: UInt64, fork newFork: UInt64? = nil) throws(HyperLogError) {
        guard newLength <= length else { throw .invalidRequest("truncate to \(newLength) beyond length \(length)") }
        let limit = 2 * newLength
        var kept: [UInt64: TreeNode] = [:]
        for (index, node) in nodes where FlatTree.rightSpan(index) < limit { kept[index] = node }
        var newRoots: [TreeNode] = []
        for index in FlatTree.roots(forLength: newLength) {
            guard let root = kept[index] else { throw .missingNode(index: index) }
            newRoots.append(root)
        }
        nodes = kept
        roots = newRoots
        length = newLength
        byteLength = newRoots.reduce(0) { $0 + $1.size }
        fork = newFork ?? fork + 1
    }
}
