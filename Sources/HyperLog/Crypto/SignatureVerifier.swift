import CompactEncoding
import Sodium

extension Manifest {
    /// Checks a stored or received multi-signature over a tree state: at least `quorum` distinct signers of this
    /// manifest must have signed `TreeSignable(key, treeHash, length, fork)`.
    public func verify(
        signature encoded: [UInt8], treeHash: [UInt8], length: UInt64, fork: UInt64
    ) -> Bool {
        guard let signature = try? MultiSignature(compactEncoded: encoded), signature.patch.isEmpty else {
            return false
        }
        let signable = TreeSignable.bytes(key: key, treeHash: treeHash, length: length, fork: fork)
        var signersSeen = Set<UInt64>()
        for proof in signature.proofs {
            guard proof.patch == 0, proof.signer < UInt64(signers.count), !signersSeen.contains(proof.signer) else {
                return false
            }
            let signer = signers[Int(proof.signer)]
            guard signer.signature == Signer.ed25519,
                Ed25519.verify(signature: proof.signature, message: signable, publicKey: signer.publicKey)
            else { return false }
            signersSeen.insert(proof.signer)
        }
        return UInt64(signersSeen.count) >= max(quorum, 1)
    }
}
