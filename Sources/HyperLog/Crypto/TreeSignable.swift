/// The 112 bytes a Hypercore 11 writer signs for each tree state (`caps.treeSignable`):
/// `TREE namespace ‖ core key ‖ tree hash ‖ u64le(length) ‖ u64le(fork)`.
///
/// Binding the core key into the statement means a signature for one core can never be replayed onto another
/// core that shares the signer.
public enum TreeSignable {
    public static func bytes(key: [UInt8], treeHash: [UInt8], length: UInt64, fork: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(112)
        out += HypercoreNamespace.tree
        out += key
        out += treeHash
        out += MerkleHash.littleEndian64(length)
        out += MerkleHash.littleEndian64(fork)
        return out
    }

    /// The legacy (manifest-less, version 0) statement, `TREE ‖ treeHash ‖ u64le(length) ‖ u64le(fork)`, kept for
    /// reading cores created before manifests.
    public static func legacyBytes(treeHash: [UInt8], length: UInt64, fork: UInt64) -> [UInt8] {
        HypercoreNamespace.tree + treeHash + MerkleHash.littleEndian64(length) + MerkleHash.littleEndian64(fork)
    }
}
