import CompactEncoding
import HyperLog
import Sodium
import TestVectors
import Testing

/// An in-memory writer for proof tests: a tree, its blocks, and its signed head.
struct MemoryWriter {
    let keyPair: Ed25519.KeyPair
    let manifest: Manifest
    var tree = MerkleTree()
    var blocks: [[UInt8]] = []
    var signature: [UInt8] = []

    init(seed: [UInt8]) throws {
        keyPair = try Ed25519.keyPair(seed: seed)
        manifest = Manifest.singleSigner(publicKey: keyPair.publicKey)
    }

    mutating func append(_ batch: [[UInt8]]) {
        tree.append(batch)
        blocks += batch
        let signable = TreeSignable.bytes(key: manifest.key, treeHash: tree.treeHash, length: tree.length, fork: tree.fork)
        signature = MultiSignature(singleSignature: Ed25519.sign(signable, keyPair: keyPair)).compactEncoded()
    }

    var prover: ProofGenerator {
        let tree = self.tree, blocks = self.blocks
        return ProofGenerator(
            length: tree.length, fork: tree.fork, signature: signature, manifest: manifest,
            node: { index in
                guard let node = tree.node(at: index) else { throw HyperLogError.missingNode(index: index) }
                return node
            },
            block: { index in blocks[Int(index)] })
    }
}

/// An in-memory replica that applies verified proofs.
struct MemoryReplica {
    let key: [UInt8]
    var manifest: Manifest?
    var length: UInt64 = 0
    var fork: UInt64 = 0
    var roots: [TreeNode] = []
    var nodes: [UInt64: TreeNode] = [:]
    var blocks: [UInt64: [UInt8]] = [:]

    var verifier: ProofVerifier {
        let nodes = self.nodes
        return ProofVerifier(
            key: key, manifest: manifest, length: length, fork: fork, roots: roots, localNode: { nodes[$0] })
    }

    /// How many proof nodes to ask for (`missingNodes` of the reference): steps up from the leaf until a node we
    /// hold, or 0 when the block is past our signed length.
    func missingNodes(block index: UInt64) -> UInt64 {
        let head = 2 * length
        var current = 2 * index
        if FlatTree.rightSpan(current) >= head { return 0 }
        var count: UInt64 = 0
        while !FlatTree.contains(current, head), nodes[current] == nil {
            count += 1
            current = FlatTree.parent(current)
        }
        return count
    }

    mutating func apply(_ data: DataMessage) throws {
        let verified = try verifier.verify(data)
        for node in verified.nodes { nodes[node.index] = node }
        if let block = verified.block { blocks[block.index] = block.value }
        if let upgrade = verified.upgrade {
            length = upgrade.length
            fork = upgrade.fork
            roots = upgrade.roots
            manifest = upgrade.manifest
        }
    }
}

@Suite struct MerkleProofTests {
    struct Frame: Decodable { let hex: String }
    struct Live: Decodable { let framesReceivedByReader: [Frame]; let framesReceivedByWriter: [Frame] }
    struct LiveFile: Decodable { let liveSession: Live }

    /// Channel messages of a protomux frame on channel 1 (plain or inside a batch), as (type, body) pairs.
    static func channelMessages(_ bytes: [UInt8]) throws -> [(type: UInt64, body: [UInt8])] {
        var reader = CompactReader(bytes)
        let channel = try reader.readUInt()
        if channel != 0 {
            let type = try reader.readUInt()
            return [(type, reader.readRemaining())]
        }
        guard try reader.readUInt() == 0 else { return [] }  // a control frame other than batch (open)
        _ = try reader.readUInt()
        var out: [(UInt64, [UInt8])] = []
        while !reader.isAtEnd {
            var item = CompactReader(try reader.readBuffer())
            let type = try item.readUInt()
            out.append((type, item.readRemaining()))
        }
        return out
    }

    static func tenBlockWriter() throws -> MemoryWriter {
        var writer = try MemoryWriter(seed: [UInt8](repeating: 1, count: 32))
        for i in 0..<10 { writer.append([Array("block-\(i)".utf8)]) }
        return writer
    }

    /// The reference's live replication: every recorded request, answered by our prover, gives the recorded
    /// data bytes; and our verifier, fed the recorded data, rebuilds the whole core.
    @Test func liveSessionProofsAreReproducedAndVerify() throws {
        let live = try ReferenceVectors.load("hypercore-wire.json", as: LiveFile.self).liveSession
        let requests = try live.framesReceivedByWriter.flatMap { try Self.channelMessages(Hex.decode($0.hex)) }
            .filter { $0.type == 1 }.map { try RequestMessage(compactEncoded: $0.body) }
        let answers = try live.framesReceivedByReader.flatMap { try Self.channelMessages(Hex.decode($0.hex)) }
            .filter { $0.type == 3 }.map(\.body)
        #expect(requests.count == 11)
        #expect(answers.count == 11)

        let writer = try Self.tenBlockWriter()
        var replica = MemoryReplica(key: writer.manifest.key)
        for (request, answer) in zip(requests, answers) {
            let ours = try writer.prover.proof(for: request)
            #expect(Hex.encode(ours.compactEncoded()) == Hex.encode(answer), "request \(request)")
            if let block = request.block {
                #expect(replica.missingNodes(block: block.index) == block.nodes, "nodes for block \(block.index)")
            }
            try replica.apply(try DataMessage(compactEncoded: answer))
        }
        #expect(replica.length == 10)
        #expect(replica.blocks.count == 10)
        #expect(replica.roots == writer.tree.roots)
    }

    /// Random requests from replicas of every length against a 1000-block writer all verify, with and without
    /// additional nodes, blocks inside and outside the upgrade, and hash requests.
    @Test func randomProofsRoundTrip() throws {
        var writer = try MemoryWriter(seed: [UInt8](repeating: 2, count: 32))
        var rng = SeededGenerator(seed: 21)
        var pendingBlocks = (0..<1000).map { Array("entry-\($0)".utf8) }
        var checkpoints: [(length: UInt64, roots: [TreeNode], signature: [UInt8], tree: MerkleTree)] = []
        while !pendingBlocks.isEmpty {
            let size = min(pendingBlocks.count, Int.random(in: 1...25, using: &rng))
            writer.append(Array(pendingBlocks.prefix(size)))
            pendingBlocks.removeFirst(size)
            checkpoints.append((writer.tree.length, writer.tree.roots, writer.signature, writer.tree))
        }
        var verifiedWithAdditional = 0
        for _ in 0..<600 {
            // A replica that verified some earlier head (or nothing).
            let start = Bool.random(using: &rng) ? nil : checkpoints.dropLast().randomElement(using: &rng)
            var replica = MemoryReplica(key: writer.manifest.key, manifest: start == nil ? nil : writer.manifest)
            if let start {
                replica.length = start.length
                replica.roots = start.roots
                for root in start.roots { replica.nodes[root.index] = root }
            }
            let remoteLength = writer.tree.length
            let upgradeTo = UInt64.random(in: (replica.length + 1)...remoteLength, using: &rng)
            var request = RequestMessage(
                id: 1, fork: 0, upgrade: .init(start: replica.length, length: upgradeTo - replica.length),
                manifest: replica.manifest == nil)
            switch Int.random(in: 0...2, using: &rng) {
            case 0: break
            case 1:
                let index = UInt64.random(in: 0..<upgradeTo, using: &rng)
                request.block = .init(index: index, nodes: replica.missingNodes(block: index))
            default:
                let index = UInt64.random(in: 0..<(2 * replica.length + 1), using: &rng) & ~1
                if index < 2 * replica.length { request.hash = .init(index: index, nodes: 0) }
                if request.hash != nil, replica.nodes[index] == nil {
                    // Ask for enough nodes to reach a root we hold.
                    var current = index, steps: UInt64 = 0
                    while replica.nodes[current] == nil { current = FlatTree.parent(current); steps += 1 }
                    request.hash = .init(index: index, nodes: steps)
                }
            }
            let data = try writer.prover.proof(for: request)
            if data.upgrade?.additionalNodes.isEmpty == false { verifiedWithAdditional += 1 }
            try replica.apply(data)
            #expect(replica.length == remoteLength)
            #expect(replica.roots == writer.tree.roots)
            if let block = request.block { #expect(replica.blocks[block.index] == writer.blocks[Int(block.index)]) }
        }
        #expect(verifiedWithAdditional > 50)
    }

    @Test func forgedProofsAreRejected() throws {
        let writer = try Self.tenBlockWriter()
        let request = RequestMessage(id: 1, fork: 0, block: .init(index: 3, nodes: 0), upgrade: .init(start: 0, length: 10), manifest: true)
        let honest = try writer.prover.proof(for: request)
        let replica = MemoryReplica(key: writer.manifest.key)
        _ = try replica.verifier.verify(honest)

        var tamperedBlock = honest
        tamperedBlock.block?.value = Array("block-X".utf8)
        #expect(throws: HyperLogError.invalidSignature) { try replica.verifier.verify(tamperedBlock) }

        var tamperedNode = honest
        tamperedNode.upgrade?.nodes[0].hash[0] ^= 1
        #expect(throws: HyperLogError.invalidSignature) { try replica.verifier.verify(tamperedNode) }

        var badSignature = honest
        badSignature.upgrade?.signature[5] ^= 1
        #expect(throws: HyperLogError.invalidSignature) { try replica.verifier.verify(badSignature) }

        var missingNode = honest
        missingNode.upgrade?.nodes.removeLast()
        #expect(throws: HyperLogError.self) { try replica.verifier.verify(missingNode) }

        var reordered = honest
        reordered.block?.nodes.reverse()
        #expect(throws: HyperLogError.self) { try replica.verifier.verify(reordered) }

        // A manifest that does not hash to the key (an impostor signing with their own key).
        let impostor = try MemoryWriter(seed: [UInt8](repeating: 9, count: 32))
        var forged = honest
        forged.manifest = impostor.manifest
        #expect(throws: HyperLogError.self) { try replica.verifier.verify(forged) }

        var wrongFork = honest
        wrongFork.fork = 1
        #expect(throws: HyperLogError.self) { try replica.verifier.verify(wrongFork) }

        // A block without an upgrade that does not tie to anything we hold.
        let lone = try writer.prover.proof(for: RequestMessage(id: 2, fork: 0, block: .init(index: 2, nodes: 3)))
        #expect(throws: HyperLogError.self) { try replica.verifier.verify(lone) }
    }

    @Test func invalidRequestsAreRefused() throws {
        let prover = try Self.tenBlockWriter().prover
        #expect(throws: HyperLogError.self) { try prover.proof(for: RequestMessage(id: 1, fork: 0, block: .init(index: 10, nodes: 0))) }
        #expect(throws: HyperLogError.self) { try prover.proof(for: RequestMessage(id: 1, fork: 0, upgrade: .init(start: 5, length: 6))) }
        #expect(throws: HyperLogError.self) { try prover.proof(for: RequestMessage(id: 1, fork: 0, upgrade: .init(start: 5, length: 0))) }
        #expect(throws: HyperLogError.self) { try prover.proof(for: RequestMessage(id: 1, fork: 3, block: .init(index: 1, nodes: 0))) }
        #expect(throws: HyperLogError.self) { try prover.proof(for: RequestMessage(id: 1, fork: 0, block: .init(index: 1, nodes: 9))) }
        #expect(throws: HyperLogError.self) { try prover.proof(for: RequestMessage(id: 1, fork: 0, hash: .init(index: 99, nodes: 0))) }
        // Seeking beyond the data, or together with a block in the upgraded region, is refused.
        #expect(throws: HyperLogError.self) {
            try prover.proof(
                for: RequestMessage(id: 1, fork: 0, block: .init(index: 1, nodes: 0), seek: .init(bytes: 9999, padding: 0)))
        }
        #expect(throws: HyperLogError.self) {
            try prover.proof(
                for: RequestMessage(
                    id: 1, fork: 0, block: .init(index: 8, nodes: 0), seek: .init(bytes: 3, padding: 0),
                    upgrade: .init(start: 3, length: 7)))
        }
    }

    /// Seeks, as the reference proves them: the path to the node holding the byte, nested into the upgrade or
    /// into a block's path, and verified by the replica.
    @Test func seekProofs() throws {
        let writer = try Self.tenBlockWriter()
        // The reference's worked example: 30 bytes into ten 7-byte blocks lands in block 4 (leaf 8).
        let request = RequestMessage(id: 1, fork: 0, seek: .init(bytes: 30, padding: 0), upgrade: .init(start: 0, length: 10))
        let data = try writer.prover.proof(for: request)
        #expect(data.seek?.nodes.map(\.index) == [8, 10, 13, 3])
        #expect(data.upgrade?.nodes.map(\.index) == [17])
        var replica = MemoryReplica(key: writer.manifest.key, manifest: writer.manifest)
        try replica.apply(data)
        #expect(replica.length == 10)
        #expect(replica.nodes[8] == writer.tree.node(at: 8))

        // A seek inside a block's proof, against a replica that has the whole signed tree.
        let inside = try writer.prover.proof(
            for: RequestMessage(id: 2, fork: 0, block: .init(index: 0, nodes: 3), seek: .init(bytes: 50, padding: 0)))
        #expect(inside.seek != nil)
        _ = try replica.verifier.verify(inside)
        var forged = inside
        forged.seek?.nodes[0].hash[0] ^= 1
        #expect(throws: HyperLogError.self) { try replica.verifier.verify(forged) }
    }

    @Test func randomSeeksWithUpgradesVerify() throws {
        var writer = try MemoryWriter(seed: [UInt8](repeating: 3, count: 32))
        var rng = SeededGenerator(seed: 41)
        var heads: [(length: UInt64, roots: [TreeNode])] = [(0, [])]
        for i in 0..<300 {
            writer.append([Array(repeating: UInt8(i & 0xff), count: Int.random(in: 1...40, using: &rng))])
            if i % 7 == 0 { heads.append((writer.tree.length, writer.tree.roots)) }
        }
        var seeksProven = 0
        for _ in 0..<400 {
            guard let start = heads.randomElement(using: &rng), start.length < writer.tree.length else { continue }
            var replica = MemoryReplica(key: writer.manifest.key, manifest: writer.manifest)
            replica.length = start.length
            replica.roots = start.roots
            for root in start.roots { replica.nodes[root.index] = root }
            let startBytes = start.roots.reduce(0) { $0 + $1.size }
            let bytes = UInt64.random(in: startBytes..<writer.tree.byteLength, using: &rng)
            let request = RequestMessage(
                id: 1, fork: 0, seek: .init(bytes: bytes, padding: 0),
                upgrade: .init(start: start.length, length: writer.tree.length - start.length))
            let data = try writer.prover.proof(for: request)
            if data.seek != nil { seeksProven += 1 }
            try replica.apply(data)
            #expect(replica.length == writer.tree.length)
            #expect(replica.roots == writer.tree.roots)
        }
        #expect(seeksProven > 100)
    }
}
