import Sodium
import TestVectors
import Testing

/// `hypercore-crypto.json`: key pairs, signatures and every BLAKE2b construction hypercore-crypto 3.6 uses.
@Suite struct HypercoreCryptoVectorTests {
    struct KeyPairCase: Decodable { let seed, publicKey, secretKey: String }
    struct SignatureCase: Decodable {
        let seed, message, signature: String
        let verifies, verifiesTampered: Bool
    }
    struct DataCase: Decodable { let block, hash: String }
    struct Node: Decodable { let index, size: UInt64; let hash: String }
    struct ParentCase: Decodable { let left, right: Node; let hash: String }
    struct TreeCase: Decodable { let roots: [Node]; let hash: String }
    struct DiscoveryCase: Decodable { let key, discoveryKey: String }
    struct NamespaceCase: Decodable { let name: String; let count: Int; let namespaces: [String]; let nameHash: String }
    struct HashCase: Decodable { let input, blake2b256: String }
    struct BatchHash: Decodable { let inputs: [String]; let hash: String }
    struct File: Decodable {
        let keyPairs: [KeyPairCase]
        let signatures: [SignatureCase]
        let data: [DataCase]
        let parent: ParentCase
        let treeHashes: [TreeCase]
        let discoveryKeys: [DiscoveryCase]
        let namespaces: [NamespaceCase]
        let hashes: [HashCase]
        let batchHash: BatchHash
        let encryptionKeyPairs: [KeyPairCase]
    }

    let file: File

    init() throws {
        file = try ReferenceVectors.load("hypercore-crypto.json")
    }

    static func uint64LE(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    @Test func keyPairsFromSeeds() throws {
        #expect(file.keyPairs.count >= 4)
        for vector in file.keyPairs {
            let pair = try Ed25519.keyPair(seed: Hex.decode(vector.seed))
            #expect(Hex.encode(pair.publicKey) == vector.publicKey)
            #expect(Hex.encode(pair.secretKey.bytes) == vector.secretKey)
            let reloaded = try Ed25519.KeyPair(secretKey: Hex.decode(vector.secretKey))
            #expect(reloaded.publicKey == pair.publicKey)
        }
    }

    @Test func signaturesMatchAndVerify() throws {
        #expect(!file.signatures.isEmpty)
        for vector in file.signatures {
            let pair = try Ed25519.keyPair(seed: Hex.decode(vector.seed))
            let message = try Hex.decode(vector.message)
            let signature = Ed25519.sign(message, keyPair: pair)
            #expect(Hex.encode(signature) == vector.signature)
            #expect(Ed25519.verify(signature: signature, message: message, publicKey: pair.publicKey) == vector.verifies)
            let tampered = message + [0x00]
            #expect(
                Ed25519.verify(signature: signature, message: tampered, publicKey: pair.publicKey)
                    == vector.verifiesTampered)
        }
    }

    @Test func leafHashes() throws {
        #expect(file.data.count >= 4)
        for vector in file.data {
            let block = try Hex.decode(vector.block)
            let hash = BLAKE2b.hash256(parts: [[0x00], Self.uint64LE(UInt64(block.count)), block])
            #expect(Hex.encode(hash) == vector.hash)
        }
    }

    @Test func parentHash() throws {
        let left = file.parent.left, right = file.parent.right
        let hash = BLAKE2b.hash256(parts: [
            [0x01], Self.uint64LE(left.size + right.size), try Hex.decode(left.hash), try Hex.decode(right.hash),
        ])
        #expect(Hex.encode(hash) == file.parent.hash)
    }

    @Test func treeHashes() throws {
        #expect(file.treeHashes.count >= 3)
        for vector in file.treeHashes {
            var hasher = BLAKE2b.Hasher.unkeyed256()
            hasher.update([0x02])
            for root in vector.roots {
                hasher.update(try Hex.decode(root.hash))
                hasher.update(Self.uint64LE(root.index))
                hasher.update(Self.uint64LE(root.size))
            }
            #expect(Hex.encode(hasher.finalize()) == vector.hash)
        }
    }

    @Test func discoveryKeysAreKeyedHashes() throws {
        #expect(!file.discoveryKeys.isEmpty)
        for vector in file.discoveryKeys {
            let digest = try BLAKE2b.hash(Array("hypercore".utf8), outputLength: 32, key: Hex.decode(vector.key))
            #expect(Hex.encode(digest) == vector.discoveryKey)
        }
    }

    @Test func namespaces() throws {
        #expect(file.namespaces.count >= 3)
        for vector in file.namespaces {
            let nameHash = BLAKE2b.hash256(Array(vector.name.utf8))
            #expect(Hex.encode(nameHash) == vector.nameHash)
            #expect(vector.namespaces.count == vector.count)
            for (index, expected) in vector.namespaces.enumerated() {
                #expect(Hex.encode(BLAKE2b.hash256(nameHash + [UInt8(index)])) == expected)
            }
        }
    }

    @Test func plainAndBatchedHashes() throws {
        for vector in file.hashes {
            #expect(Hex.encode(BLAKE2b.hash256(try Hex.decode(vector.input))) == vector.blake2b256)
        }
        let parts = try file.batchHash.inputs.map(Hex.decode)
        #expect(Hex.encode(BLAKE2b.hash256(parts: parts)) == file.batchHash.hash)
        var streaming = BLAKE2b.Hasher.unkeyed256()
        for part in parts { for byte in part { streaming.update(byte: byte) } }
        #expect(Hex.encode(streaming.finalize()) == file.batchHash.hash)
    }

    @Test func encryptionKeyPairs() throws {
        #expect(!file.encryptionKeyPairs.isEmpty)
        for vector in file.encryptionKeyPairs {
            let pair = try X25519.keyPair(seed: Hex.decode(vector.seed))
            #expect(Hex.encode(pair.publicKey) == vector.publicKey)
            #expect(Hex.encode(pair.secretKey.bytes) == vector.secretKey)
            #expect(try X25519.publicKey(secretKey: pair.secretKey) == pair.publicKey)
        }
    }
}
