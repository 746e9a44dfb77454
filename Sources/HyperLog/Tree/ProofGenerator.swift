/// Builds the Merkle proof that answers a `request`, choosing exactly the nodes the reference `hypercore` 11
/// prover chooses (`lib/merkle-tree.js` generateProof), in the same order: the order is part of the wire contract,
/// because the verifier consumes nodes positionally.
///
/// Pure: nodes and blocks come from the closures, so it runs the same over storage, memory or a test tree.
public struct ProofGenerator {
    /// The prover's signed state.
    public var length: UInt64
    public var fork: UInt64
    public var signature: [UInt8]
    public var manifest: Manifest?
    public var node: (UInt64) throws -> TreeNode
    public var block: (UInt64) throws -> [UInt8]

    public init(
        length: UInt64, fork: UInt64, signature: [UInt8], manifest: Manifest?,
        node: @escaping (UInt64) throws -> TreeNode, block: @escaping (UInt64) throws -> [UInt8]
    ) {
        self.length = length
        self.fork = fork
        self.signature = signature
        self.manifest = manifest
        self.node = node
        self.block = block
    }

    /// The block or node being proven.
    struct Target {
        var index: UInt64
        var hasValue: Bool
        var nodes: UInt64
        var lastBlock: UInt64
    }

    /// The parts of a proof as they are built: the block/hash path and the seek path.
    struct Parts {
        var block: [TreeNode]?
        var seek: [TreeNode]?
        var proven: Bool { block != nil || seek != nil }
    }

    /// The answer to `request`, or `HyperLogError.invalidRequest` / `.blockNotAvailable` when it cannot be given.
    public func proof(for request: RequestMessage) throws -> DataMessage {
        guard request.fork == fork else { throw HyperLogError.invalidRequest("fork \(request.fork) is not ours (\(fork))") }
        let head = 2 * length
        guard head > 0 else { throw HyperLogError.blockNotAvailable(index: 0) }

        var target: Target?
        if let block = request.block {
            guard block.index < length else { throw HyperLogError.blockNotAvailable(index: block.index) }
            target = Target(index: 2 * block.index, hasValue: true, nodes: block.nodes, lastBlock: block.index)
        } else if let hash = request.hash {
            guard hash.index < head else { throw HyperLogError.invalidRequest("hash index past the end") }
            target = Target(
                index: hash.index, hasValue: false, nodes: hash.nodes, lastBlock: FlatTree.rightSpan(hash.index) / 2)
        }

        let from = request.upgrade.map { 2 * $0.start } ?? 0
        let to = request.upgrade.map { from + 2 * $0.length } ?? head
        if request.upgrade != nil {
            guard from < to, to <= head else { throw HyperLogError.invalidRequest("upgrade outside 0..<\(length)") }
        }
        if request.seek != nil, request.upgrade != nil, let target, target.index >= from {
            throw HyperLogError.invalidRequest("cannot seek and prove a block in the upgraded region at once")
        }

        var data = DataMessage(request: request.id, fork: fork)
        var parts = Parts()
        var subTree = head

        if let target, request.upgrade.map({ target.lastBlock < $0.start }) ?? true {
            // The target lies inside the requester's tree: prove it up to the ancestor the requester holds.
            subTree = try Self.nodesToRoot(target.index, nodes: target.nodes, head: to)
            let seekRoot = try request.seek.map { try seekUntrustedTree(root: subTree, bytes: $0.bytes, padding: $0.padding) }
            try blockAndSeekProof(target, seekRoot: seekRoot, root: subTree, into: &parts)
        } else if target != nil || request.seek != nil, request.upgrade != nil {
            // The target (or the sought block) lies in the new region: its path replaces one node of the upgrade.
            if let seek = request.seek {
                subTree = try seekFromHead(head: to, bytes: seek.bytes, padding: seek.padding)
            } else if let target {
                subTree = target.index
            }
        }

        if let upgrade = request.upgrade {
            let seeking = request.seek != nil
            let nodes = try upgradeNodes(
                from: from, to: to, subTree: subTree, target: target, seeking: seeking, parts: &parts)
            var additional: [TreeNode] = []
            if head > to {
                var none = Parts(block: [], seek: [])
                additional = try upgradeNodes(
                    from: to, to: head, subTree: head, target: nil, seeking: false, parts: &none)
            }
            data.upgrade = DataMessage.UpgradeProof(
                start: upgrade.start, length: upgrade.length, nodes: nodes, additionalNodes: additional,
                signature: signature)
        }

        if let target {
            let proofNodes = parts.block ?? []
            if target.hasValue {
                data.block = DataMessage.BlockProof(
                    index: target.index / 2, value: try block(target.index / 2), nodes: proofNodes)
            } else {
                data.hash = DataMessage.HashProof(index: target.index, nodes: proofNodes)
            }
        }
        if let seek = request.seek, let seekNodes = parts.seek {
            data.seek = DataMessage.SeekProof(bytes: seek.bytes, nodes: seekNodes)
        }
        if request.manifest, let manifest { data.manifest = manifest }
        return data
    }

    /// The ancestor `nodes` steps above `index`; every step must stay inside the tree of leaf index `head`.
    static func nodesToRoot(_ index: UInt64, nodes: UInt64, head: UInt64) throws -> UInt64 {
        var current = index
        for _ in 0..<min(nodes, 64) {
            current = FlatTree.parent(current)
            if FlatTree.contains(current, head) { throw HyperLogError.invalidRequest("nodes is out of bounds") }
        }
        return current
    }

    /// The node at `seekRoot` and the sibling path from it up to (not including) `root`.
    func seekProof(seekRoot: UInt64, root: UInt64, into parts: inout Parts) throws {
        var out = [try node(seekRoot)]
        var current = seekRoot
        var steps = 0
        while current != root {
            steps += 1
            guard steps < 64 else { throw HyperLogError.invalidRequest("seek root is not under \(root)") }
            out.append(try node(FlatTree.sibling(current)))
            current = FlatTree.parent(current)
        }
        parts.seek = out
    }

    /// The sibling path from the target up to (not including) `root`; a hash proof starts with the node itself.
    /// A sibling that holds the sought position is replaced by the seek proof down to it. Without a target, only
    /// the seek proof is made.
    func blockAndSeekProof(_ target: Target?, seekRoot: UInt64?, root: UInt64, into parts: inout Parts) throws {
        guard let target else {
            if let seekRoot { try seekProof(seekRoot: seekRoot, root: root, into: &parts) }
            return
        }
        var out: [TreeNode] = []
        if !target.hasValue { out.append(try node(target.index)) }
        var current = target.index
        var steps = 0
        while current != root {
            steps += 1
            guard steps < 64 else { throw HyperLogError.invalidRequest("target is not under \(root)") }
            let sibling = FlatTree.sibling(current)
            if let seekRoot, FlatTree.contains(sibling, seekRoot), sibling != seekRoot {
                try seekProof(seekRoot: seekRoot, root: sibling, into: &parts)
            } else {
                out.append(try node(sibling))
            }
            current = FlatTree.parent(current)
        }
        parts.block = out
    }

    /// Nodes that take a requester whose tree ends at leaf index `from` to the roots of `to`. Where the target's
    /// (or the sought block's) subtree would be sent, its own path is produced instead, into `parts`.
    func upgradeNodes(
        from: UInt64, to: UInt64, subTree: UInt64, target: Target?, seeking: Bool, parts: inout Parts
    ) throws -> [TreeNode] {
        var out: [TreeNode] = []
        var started = from == 0
        let substitutes = target != nil || seeking
        for root in FlatTree.fullRoots(to) {
            if from > 0, FlatTree.rightSpan(root) <= from - 2 { continue }
            if from > 0, !started, FlatTree.contains(root, from - 2) {
                started = true
                var current = from - 2
                while current != root {
                    let sibling = FlatTree.sibling(current)
                    if sibling > from - 2 {
                        if substitutes, !parts.proven, FlatTree.contains(sibling, subTree) {
                            try blockAndSeekProof(target, seekRoot: seeking ? subTree : nil, root: sibling, into: &parts)
                        } else {
                            out.append(try node(sibling))
                        }
                    }
                    current = FlatTree.parent(current)
                }
                continue
            }
            started = true
            if substitutes, !parts.proven, FlatTree.contains(root, subTree) {
                try blockAndSeekProof(target, seekRoot: seeking ? subTree : nil, root: root, into: &parts)
                continue
            }
            out.append(try node(root))
        }
        return out
    }

    // MARK: - Seeking (find the block holding byte `bytes`, as the reference's ByteSeeker does)

    /// A node's size without the per-block padding the requester asked to discount.
    func unpaddedSize(_ node: TreeNode, padding: UInt64) -> UInt64 {
        node.size &- padding &* FlatTree.countLeaves(node.index)
    }

    /// Walks the signed roots of the tree of leaf index `head` to the node that holds byte `bytes`.
    func seekFromHead(head: UInt64, bytes: UInt64, padding: UInt64) throws -> UInt64 {
        var remaining = bytes
        for root in FlatTree.fullRoots(head) {
            let size = unpaddedSize(try node(root), padding: padding)
            if remaining == size { return root }
            if remaining > size {
                remaining -= size
                continue
            }
            return try seekTrustedTree(root: root, bytes: remaining, padding: padding)
        }
        return head
    }

    /// Descends from `root` (known to hold byte `bytes`, relative to its start) to the node that holds it.
    func seekTrustedTree(root: UInt64, bytes: UInt64, padding: UInt64) throws -> UInt64 {
        guard bytes > 0 else { return root }
        var current = root
        var remaining = bytes
        var steps = 0
        while current & 1 == 1 {
            steps += 1
            guard steps < 128, let left = FlatTree.leftChild(current) else { break }
            let size = unpaddedSize(try node(left), padding: padding)
            current = left
            if size == remaining { return current }
            if size > remaining { continue }
            remaining -= size
            current = FlatTree.sibling(current)
        }
        return current
    }

    /// Like `seekTrustedTree`, but first checks that byte `bytes` (of the whole log) really lies under `root`.
    func seekUntrustedTree(root: UInt64, bytes: UInt64, padding: UInt64) throws -> UInt64 {
        // Bytes before the root's first block: the full subtrees that precede it.
        var offset: UInt64 = 0
        for preceding in FlatTree.fullRoots(FlatTree.leftSpan(root)) { offset += try node(preceding).size }
        offset = offset &- padding &* (FlatTree.leftSpan(root) / 2)
        guard offset <= bytes else { throw HyperLogError.invalidRequest("invalid seek") }
        if offset == bytes { return root }
        let relative = bytes - offset
        guard unpaddedSize(try node(root), padding: padding) > relative else {
            throw HyperLogError.invalidRequest("invalid seek")
        }
        return try seekTrustedTree(root: root, bytes: relative, padding: padding)
    }
}

extension FlatTree {
    /// Whether flat-tree index `index` lies under `node` (between its left and right span).
    @inlinable public static func contains(_ node: UInt64, _ index: UInt64) -> Bool {
        leftSpan(node) <= index && index <= rightSpan(node)
    }
}
