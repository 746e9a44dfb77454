import HyperLog
import Sodium
import TestVectors
import Testing

/// `hypercore-core.json`: a real hypercore 11 core, appended batch by batch, must give the same manifest, key,
/// discovery key, nodes, roots, tree hashes, signables and stored signatures as our tree.
@Suite struct HypercoreCoreVectorTests {
    struct Node: Decodable { let index, size: UInt64; let hash: String }
    struct Length: Decodable {
        let length: UInt64
        let byteLength: UInt64?
        let fork: UInt64?
        let roots: [Node]?
        let treeHash: String
        let signable: String?
        let signature: String
        let rawEd25519Signature: String?
    }
    struct Core: Decodable {
        let name, seed, publicKey, encodedManifest, manifestHashInput, key, discoveryKey: String
        let batches: [Int]
        let blocks: [String]
        let nodes: [Node]
        let lengths: [Length]
    }
    struct Compat: Decodable {
        let length, fork: UInt64
        let treeHash, signableCompat, signableCompatNoHeader: String
    }
    struct Namespaces: Decodable { let hypercore: [String]; let corestore: String }
    struct CorestoreCase: Decodable {
        let primaryKey: String
        let namespacePath: [String]
        let namespace, name, seed, publicKey, key, discoveryKey: String
    }
    struct File: Decodable {
        let namespaces: Namespaces
        let cores: [Core]
        let compat: Compat
        let corestore: [CorestoreCase]
    }

    let file: File

    init() throws { file = try ReferenceVectors.load("hypercore-core.json") }

    @Test func namespaces() {
        let ours = [
            HypercoreNamespace.tree, HypercoreNamespace.replicateInitiator, HypercoreNamespace.replicateResponder,
            HypercoreNamespace.manifest, HypercoreNamespace.defaultNamespace, HypercoreNamespace.defaultEncryption,
        ].map(Hex.encode)
        #expect(ours == file.namespaces.hypercore)
        #expect(Hex.encode(CorestoreKeyDerivation.corestoreNamespace) == file.namespaces.corestore)
    }

    @Test func manifestKeyAndDiscoveryKey() throws {
        #expect(file.cores.count == 2)
        for core in file.cores {
            let pair = try Ed25519.keyPair(seed: Hex.decode(core.seed))
            #expect(Hex.encode(pair.publicKey) == core.publicKey)
            let manifest = Manifest.singleSigner(publicKey: pair.publicKey)
            #expect(Hex.encode(manifest.compactEncoded()) == core.encodedManifest)
            #expect(Hex.encode(HypercoreNamespace.manifest + manifest.compactEncoded()) == core.manifestHashInput)
            #expect(Hex.encode(manifest.key) == core.key)
            #expect(Hex.encode(try DiscoveryKey.of(manifest.key)) == core.discoveryKey)
            #expect(try Manifest(compactEncoded: Hex.decode(core.encodedManifest)) == manifest)
        }
    }

    @Test(arguments: [0, 1])
    func everyRecordedLength(coreIndex: Int) throws {
        let core = file.cores[coreIndex]
        let pair = try Ed25519.keyPair(seed: Hex.decode(core.seed))
        let key = Manifest.singleSigner(publicKey: pair.publicKey).key
        let blocks = try core.blocks.map(Hex.decode)
        #expect(core.batches.reduce(0, +) == blocks.count)
        #expect(core.lengths.count == core.batches.count)

        var tree = MerkleTree()
        var consumed = 0
        var fullDetailChecked = 0
        for (batchSize, expected) in zip(core.batches, core.lengths) {
            tree.append(Array(blocks[consumed..<(consumed + batchSize)]))
            consumed += batchSize
            #expect(tree.length == expected.length)
            #expect(Hex.encode(tree.treeHash) == expected.treeHash, "tree hash at \(expected.length)")
            let signable = TreeSignable.bytes(key: key, treeHash: tree.treeHash, length: tree.length, fork: tree.fork)
            let raw = Ed25519.sign(signable, keyPair: pair)
            #expect(Hex.encode(MultiSignature(singleSignature: raw).compactEncoded()) == expected.signature)
            if let roots = expected.roots {
                fullDetailChecked += 1
                #expect(tree.roots.map { Node(index: $0.index, size: $0.size, hash: Hex.encode($0.hash)) } == roots)
                #expect(tree.byteLength == expected.byteLength)
                #expect(tree.fork == expected.fork)
                #expect(signable.count == 112)
                #expect(Hex.encode(signable) == expected.signable)
                #expect(Hex.encode(raw) == expected.rawEd25519Signature)
                let decoded = try MultiSignature(compactEncoded: Hex.decode(expected.signature))
                #expect(decoded.proofs.first?.signature == raw)
            }
        }
        #expect(fullDetailChecked > 0)
        // Every node of the final tree.
        #expect(tree.nodes.count == core.nodes.count)
        for node in core.nodes {
            #expect(tree.node(at: node.index).map { Hex.encode($0.hash) } == node.hash, "node \(node.index)")
            #expect(tree.node(at: node.index)?.size == node.size)
        }
    }

    @Test func legacySignable() throws {
        let compat = file.compat
        let treeHash = try Hex.decode(compat.treeHash)
        #expect(
            Hex.encode(TreeSignable.legacyBytes(treeHash: treeHash, length: compat.length, fork: compat.fork))
                == compat.signableCompat)
        #expect(Hex.encode(TreeSignable.legacyBytes(treeHash: treeHash, length: compat.length, fork: compat.fork).dropFirst(32))
            == compat.signableCompatNoHeader)
    }

    @Test func corestoreDerivation() throws {
        #expect(file.corestore.count == 6)
        for vector in file.corestore {
            let primary = SecureBytes(try Hex.decode(vector.primaryKey))
            let namespace = CorestoreKeyDerivation.namespace(path: vector.namespacePath)
            #expect(Hex.encode(namespace) == vector.namespace)
            let seed = try CorestoreKeyDerivation.seed(primaryKey: primary, namespace: namespace, name: vector.name)
            #expect(Hex.encode(seed.bytes) == vector.seed)
            let pair = try CorestoreKeyDerivation.keyPair(primaryKey: primary, namespace: namespace, name: vector.name)
            #expect(Hex.encode(pair.publicKey) == vector.publicKey)
            let key = Manifest.singleSigner(publicKey: pair.publicKey).key
            #expect(Hex.encode(key) == vector.key)
            #expect(Hex.encode(try DiscoveryKey.of(key)) == vector.discoveryKey)
        }
    }
}

extension HypercoreCoreVectorTests.Node: Equatable {}
