/// Checks a `data` message against a replica's signed state, the way the reference `hypercore` 11 verifier does
/// (`lib/merkle-tree.js` verifyTree / verifyUpgrade): nodes are consumed positionally, every parent is recomputed,
/// and an upgrade is accepted only with a valid signature over the resulting roots.
///
/// Pure: local nodes come from a closure. The result lists every node the proof established, for storage.
public struct ProofVerifier {
    /// What a verified proof establishes.
    public struct Verified: Sendable, Equatable {
        /// The block, when the proof carried one.
        public var block: (index: UInt64, value: [UInt8])?
        /// Nodes given or computed by the proof (all verified).
        public var nodes: [TreeNode]
        /// The new signed head, when the proof upgraded the tree.
        public var upgrade: Upgrade?

        public struct Upgrade: Sendable, Equatable {
            public var length: UInt64
            public var fork: UInt64
            public var roots: [TreeNode]
            public var signature: [UInt8]
            public var manifest: Manifest
        }

        public static func == (lhs: Verified, rhs: Verified) -> Bool {
            lhs.block?.index == rhs.block?.index && lhs.block?.value == rhs.block?.value && lhs.nodes == rhs.nodes
                && lhs.upgrade == rhs.upgrade
        }
    }

    public var key: [UInt8]
    public var manifest: Manifest?
    public var length: UInt64
    public var fork: UInt64
    public var roots: [TreeNode]
    public var localNode: (UInt64) throws -> TreeNode?

    public init(
        key: [UInt8], manifest: Manifest?, length: UInt64, fork: UInt64, roots: [TreeNode],
        localNode: @escaping (UInt64) throws -> TreeNode?
    ) {
        self.key = key
        self.manifest = manifest
        self.length = length
        self.fork = fork
        self.roots = roots
        self.localNode = localNode
    }

    /// Positional node consumption with one optional substitute (the root of the block's own path).
    struct NodeQueue {
        var nodes: [TreeNode]
        var position = 0
        var extra: TreeNode?
        var extraUsed = false

        var isEmpty: Bool { position >= nodes.count && (extra == nil || extraUsed) }

        mutating func shift(_ index: UInt64) throws(HyperLogError) -> TreeNode {
            if let extra, !extraUsed, extra.index == index {
                extraUsed = true
                return extra
            }
            guard position < nodes.count else { throw .invalidProof("expected node \(index), proof ended") }
            let next = nodes[position]
            guard next.index == index else { throw .invalidProof("expected node \(index), got \(next.index)") }
            position += 1
            return next
        }
    }

    /// A batch of roots being grown by an upgrade.
    struct GrowingForest {
        var roots: [TreeNode]
        var length: UInt64
        var created: [TreeNode] = []

        mutating func appendRoot(_ node: TreeNode) {
            length += FlatTree.countLeaves(node.index)
            roots.append(node)
            while roots.count >= 2 {
                let right = roots[roots.count - 1], left = roots[roots.count - 2]
                guard FlatTree.sibling(right.index) == left.index else { break }
                let parent = MerkleHash.parent(left, right)
                roots.removeLast(2)
                roots.append(parent)
                created.append(parent)
            }
        }
    }

    public func verify(_ data: DataMessage) throws(HyperLogError) -> Verified {
        guard data.fork == fork else { throw .invalidProof("proof is for fork \(data.fork), we are on \(fork)") }
        guard data.block == nil || data.hash == nil else { throw .invalidProof("both block and hash in one proof") }
        var established: [TreeNode] = []

        // Step 1: the seek path, then the block or node path (which may absorb the seek path's root).
        var seekRoot: TreeNode?
        if let seek = data.seek, let first = seek.nodes.first {
            var queue = NodeQueue(nodes: seek.nodes)
            seekRoot = try Self.climb(from: try queue.shift(first.index), consuming: &queue, recording: &established)
        }
        var pathRoot: TreeNode? = seekRoot
        if data.block != nil || data.hash != nil {
            var queue = NodeQueue(nodes: data.block?.nodes ?? data.hash?.nodes ?? [], extra: seekRoot)
            let start: TreeNode
            if let block = data.block {
                guard block.index < (1 << 62) else { throw .invalidProof("block index out of range") }
                start = MerkleHash.leafNode(blockIndex: block.index, block: block.value)
            } else if let hash = data.hash {
                start = try queue.shift(hash.index)
            } else {
                throw .invalidProof("unreachable")
            }
            pathRoot = try Self.climb(from: start, consuming: &queue, recording: &established)
        }

        // Step 2: the upgrade.
        var pathRootConsumed = false
        var result = Verified(block: data.block.map { ($0.index, $0.value) }, nodes: [], upgrade: nil)
        if let upgrade = data.upgrade {
            if upgrade.start < length { throw .outdated("upgrade starts at \(upgrade.start), we are already at \(length)") }
            guard upgrade.start == length else {
                throw .invalidProof("upgrade starts at \(upgrade.start), we are at \(length)")
            }
            guard upgrade.length > 0, upgrade.start <= (1 << 61), upgrade.length <= (1 << 61) else {
                throw .invalidProof("empty or oversized upgrade")
            }
            var queue = NodeQueue(nodes: upgrade.nodes, extra: pathRoot)
            var forest = GrowingForest(roots: roots, length: length)
            let to = 2 * (upgrade.start + upgrade.length)
            var grow = !roots.isEmpty
            var kept = 0
            for root in FlatTree.fullRoots(to) {
                if kept < roots.count, roots[kept].index == root {
                    kept += 1
                    continue
                }
                if grow {
                    grow = false
                    if kept < roots.count {
                        // The requester's trailing roots merge into this new root, sibling by sibling.
                        var position = forest.roots[forest.roots.count - 1].index
                        while position != root {
                            let sibling = try queue.shift(FlatTree.sibling(position))
                            established.append(sibling)
                            forest.appendRoot(sibling)
                            guard let last = forest.roots.last, forest.roots.count <= 64 else {
                                throw .invalidProof("upgrade does not converge")
                            }
                            position = last.index
                            if FlatTree.depth(position) > FlatTree.depth(root) {
                                throw .invalidProof("upgrade overshoots root \(root)")
                            }
                        }
                        continue
                    }
                }
                let node = try queue.shift(root)
                established.append(node)
                forest.appendRoot(node)
            }
            pathRootConsumed = queue.extraUsed

            // Additional nodes carry the tree from start + length to the length the signature covers.
            let additional = upgrade.additionalNodes
            var k = 0
            if var position = forest.roots.last?.index {
                while k < additional.count, additional[k].index == FlatTree.sibling(position) {
                    established.append(additional[k])
                    forest.appendRoot(additional[k])
                    k += 1
                    guard let last = forest.roots.last else { break }
                    position = last.index
                }
                position = FlatTree.sibling(position)
                while k < additional.count {
                    let node = additional[k]
                    k += 1
                    var steps = 0
                    while position != node.index {
                        guard position & 1 == 1, steps < 64 else {
                            throw .invalidProof("additional node \(node.index) is not where the tree continues")
                        }
                        position = FlatTree.leftChild(position) ?? position
                        steps += 1
                    }
                    established.append(node)
                    forest.appendRoot(node)
                    guard let last = forest.roots.last else { break }
                    position = FlatTree.sibling(last.index)
                }
            } else if !additional.isEmpty {
                throw .invalidProof("additional nodes without a tree")
            }
            established.append(contentsOf: forest.created)
            guard FlatTree.fullRoots(2 * forest.length) == forest.roots.map(\.index) else {
                throw .invalidProof("upgrade roots do not form a tree")
            }

            // The signature must cover the resulting roots.
            let signer = try resolveManifest(data.manifest)
            let treeHash = MerkleHash.tree(roots: forest.roots)
            guard signer.verify(signature: upgrade.signature, treeHash: treeHash, length: forest.length, fork: data.fork)
            else { throw .invalidSignature }
            guard forest.length > length else { throw .invalidProof("upgrade does not move the tree forward") }
            result.upgrade = Verified.Upgrade(
                length: forest.length, fork: data.fork, roots: forest.roots, signature: upgrade.signature,
                manifest: signer)
        }

        // A path that the upgrade did not absorb must end at a node we already trust.
        if let pathRoot, !pathRootConsumed {
            let trusted: TreeNode?
            do { trusted = try localNode(pathRoot.index) } catch { throw .corruptStorage("\(error)") }
            // Not proof of malice: the anchor may be a node another in-flight proof was going to bring.
            guard let trusted else { throw .missingNode(index: pathRoot.index) }
            guard trusted.hash == pathRoot.hash, trusted.size == pathRoot.size else {
                throw .invalidProof("proof does not match our node \(pathRoot.index)")
            }
            if let block = data.block, block.index >= length {
                throw .invalidProof("block \(block.index) is beyond our signed length")
            }
        }
        result.nodes = established
        return result
    }

    /// Hashes up from `start` with the queued siblings until the queue is empty; records every node it meets.
    static func climb(
        from start: TreeNode, consuming queue: inout NodeQueue, recording established: inout [TreeNode]
    ) throws(HyperLogError) -> TreeNode {
        var current = start
        established.append(current)
        while !queue.isEmpty {
            // Flat-tree arithmetic holds below depth 62 (no log reaches it); a proof that climbs higher is forged, and
            // past depth 63 the index arithmetic would overflow.
            guard FlatTree.depth(current.index) < 62 else {
                throw .invalidProof("proof climbs above any log's tree (node \(current.index))")
            }
            let sibling = try queue.shift(FlatTree.sibling(current.index))
            established.append(sibling)
            current = MerkleHash.parent(current, sibling)
            established.append(current)
        }
        return current
    }

    /// The manifest to check signatures with: ours, or the one the proof brought (which must hash to the key).
    func resolveManifest(_ offered: Manifest?) throws(HyperLogError) -> Manifest {
        if let manifest { return manifest }
        guard let offered else { throw .invalidProof("no manifest known or offered") }
        guard offered.key == key else { throw .invalidProof("offered manifest does not hash to the core key") }
        return offered
    }
}
