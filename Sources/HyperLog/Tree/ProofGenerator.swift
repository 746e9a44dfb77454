/// Builds the Merkle proof that answers a `request`, choosing exactly the nodes the reference `hypercore` 11
/// prover chooses (`lib/merkle-tree.js` generateProof), in the same order: the order is part of the wire contract,
/// because the verifier consumes nodes positionally.
///
/// Pure: nodes and blocks come from the closures, so it runs the same over storage, memory or a test tree.
/// Seek requests are not supported yet and are answered as invalid.
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

    /// The answer to `request`, or `HyperLogError.invalidRequest` / `.blockNotAvailable` when it cannot be given.
    public func proof(for request: RequestMessage) throws -> DataMessage {
        guard request.seek == nil else { throw HyperLogError.invalidRequest("seek proofs are not supported") }
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

        var data = DataMessage(request: request.id, fork: fork)
        var blockNodes: [TreeNode]?
        var subTree = head

        if let target, request.upgrade.map({ target.lastBlock < $0.start }) ?? true {
            // The target lies inside the requester's tree: prove it up to the ancestor the requester holds.
            subTree = try Self.nodesToRoot(target.index, nodes: target.nodes, head: to)
            blockNodes = try blockProof(target, root: subTree)
        } else if let target, request.upgrade != nil {
            // The target lies in the new region: its path replaces one node of the upgrade proof.
            subTree = target.index
        }

        if let upgrade = request.upgrade {
            var nested = blockNodes
            let nodes = try upgradeNodes(from: from, to: to, subTree: subTree, target: target, blockNodes: &nested)
            blockNodes = nested
            var additional: [TreeNode] = []
            if head > to {
                var none: [TreeNode]? = []
                additional = try upgradeNodes(from: to, to: head, subTree: head, target: nil, blockNodes: &none)
            }
            data.upgrade = DataMessage.UpgradeProof(
                start: upgrade.start, length: upgrade.length, nodes: nodes, additionalNodes: additional,
                signature: signature)
        }

        if let target {
            let proofNodes = blockNodes ?? []
            if target.hasValue {
                data.block = DataMessage.BlockProof(
                    index: target.index / 2, value: try block(target.index / 2), nodes: proofNodes)
            } else {
                data.hash = DataMessage.HashProof(index: target.index, nodes: proofNodes)
            }
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

    /// The sibling path from the target up to (not including) `root`; a hash proof starts with the node itself.
    func blockProof(_ target: Target, root: UInt64) throws -> [TreeNode] {
        var out: [TreeNode] = []
        if !target.hasValue { out.append(try node(target.index)) }
        var current = target.index
        while current != root {
            out.append(try node(FlatTree.sibling(current)))
            current = FlatTree.parent(current)
        }
        return out
    }

    /// Nodes that take a requester whose tree ends at leaf index `from` to the roots of `to`. Where the target's
    /// subtree would be sent, the target's own path is produced instead (into `blockNodes`).
    func upgradeNodes(
        from: UInt64, to: UInt64, subTree: UInt64, target: Target?, blockNodes: inout [TreeNode]?
    ) throws -> [TreeNode] {
        var out: [TreeNode] = []
        var started = from == 0
        for root in FlatTree.fullRoots(to) {
            if from > 0, FlatTree.rightSpan(root) <= from - 2 { continue }
            if from > 0, !started, FlatTree.contains(root, from - 2) {
                started = true
                var current = from - 2
                while current != root {
                    let sibling = FlatTree.sibling(current)
                    if sibling > from - 2 {
                        if let target, blockNodes == nil, FlatTree.contains(sibling, subTree) {
                            blockNodes = try blockProof(target, root: sibling)
                        } else {
                            out.append(try node(sibling))
                        }
                    }
                    current = FlatTree.parent(current)
                }
                continue
            }
            started = true
            if let target, blockNodes == nil, FlatTree.contains(root, subTree) {
                blockNodes = try blockProof(target, root: root)
                continue
            }
            out.append(try node(root))
        }
        return out
    }
}

extension FlatTree {
    /// Whether flat-tree index `index` lies under `node` (between its left and right span).
    @inlinable public static func contains(_ node: UInt64, _ index: UInt64) -> Bool {
        leftSpan(node) <= index && index <= rightSpan(node)
    }
}
