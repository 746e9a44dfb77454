import CompactEncoding
import HyperLog
import Sodium
import TestVectors
import Testing

/// Inputs the fuzzer (`make fuzz`, target `proof`) found to trap the verifier, kept as regression tests: each must
/// be rejected with an error. The log is the fuzz target's own: 16 blocks under the key of seed 7.
struct ProofFuzzRegressionTests {
    static func verifier() -> ProofVerifier {
        let keyPair = try! Ed25519.keyPair(seed: [UInt8](repeating: 7, count: 32))
        let manifest = Manifest.singleSigner(publicKey: keyPair.publicKey)
        var tree = MerkleTree()
        let nodes = tree.append((0..<16).map { [UInt8](repeating: UInt8($0), count: 10 + $0) })
        let known = Dictionary(nodes.map { ($0.index, $0) }, uniquingKeysWith: { $1 })
        return ProofVerifier(
            key: manifest.key, manifest: manifest, length: tree.length, fork: 0, roots: tree.roots,
            localNode: { known[$0] })
    }

    /// A proof whose path climbs past depth 63: flat-tree arithmetic overflowed (CI fuzz run, 2026-12-07).
    @Test func aProofClimbingAboveAnyTreeIsRejected() throws {
        let bytes = try Hex.decode("06090008010a070eb4ec65e8e75f09e547245143eed60b40d37b0a117a278abb6c9c70341901000307ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff5c6796ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff63ffffffffffffffffffffff000000000000000000000000000000000000000000ffffffffffffffffffff9b9b9b9b9b9b9b9b9b9b9b9b9b9b00000000000000009b9bffffffffffffffffffffffffffffffffffffffffffff04075ed11fffffffffffffffffffffffffff06fe01ffffffffffffffffffffffffffffffffffffffffffffff01ce6bd979d03b110ee0e88d4e00ffffffffffff4a0000000000e801000000e7000000fc0000000000000000000000b70000002a00000000000000000000fcfcfc000000ca56")
        guard case .data(let data)? = try? ReplicationMessage(type: 3, bytes: bytes) else {
            Issue.record("the recorded input no longer decodes as a data message")
            return
        }
        #expect(throws: HyperLogError.self) { try Self.verifier().verify(data) }
    }
}
