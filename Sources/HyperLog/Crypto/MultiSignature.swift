import CompactEncoding

/// The signature Hypercore 11 stores with its tree and sends in upgrade proofs: a compact multi-signature that,
/// for a single signer, wraps one Ed25519 signature.
///
/// Layout (`lib/messages.js` multiSignature): `array(proof)` where proof = `uint signer` (index into the
/// manifest's signers), `fixed64 signature`, `uint patch` (number of patch nodes; 0 without patching); then
/// `array(node)` of patch nodes (`uint index`, `uint size`, `fixed32 hash`). For one signer and no patch that is
/// `01 00 <64-byte signature> 00 00`.
public struct MultiSignature: Hashable, Sendable, CompactCodable {
    public struct Proof: Hashable, Sendable, CompactCodable {
        public var signer: UInt64
        public var signature: [UInt8]
        public var patch: UInt64

        public init(signer: UInt64, signature: [UInt8], patch: UInt64 = 0) {
            self.signer = signer
            self.signature = signature
            self.patch = patch
        }

        public func encode<W: CompactWriter>(to writer: inout W) {
            writer.writeUInt(signer)
            writer.writeFixed(signature, length: 64)
            writer.writeUInt(patch)
        }

        public init(from reader: inout CompactReader) throws(CompactEncodingError) {
            signer = try reader.readUInt()
            signature = try reader.readFixed(length: 64)
            patch = try reader.readUInt()
        }
    }

    public var proofs: [Proof]
    public var patch: [TreeNode]

    public init(proofs: [Proof], patch: [TreeNode] = []) {
        self.proofs = proofs
        self.patch = patch
    }

    /// A single signer's plain Ed25519 signature, wrapped.
    public init(singleSignature signature: [UInt8]) {
        self.init(proofs: [Proof(signer: 0, signature: signature)])
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeArray(proofs) { $0.write($1) }
        writer.writeArray(patch) { $0.write($1) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        proofs = try reader.readArray(minimumElementSize: 66, limit: 64) {
            (r: inout CompactReader) throws(CompactEncodingError) in try r.read(Proof.self)
        }
        patch = try reader.readArray(minimumElementSize: 34, limit: 128) {
            (r: inout CompactReader) throws(CompactEncodingError) in try r.read(TreeNode.self)
        }
    }
}

extension TreeNode: CompactCodable {
    /// The wire form of a node in proofs: `uint index`, `uint size`, `fixed32 hash`.
    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(index)
        writer.writeUInt(size)
        writer.writeFixed(hash, length: 32)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        index = try reader.readUInt()
        size = try reader.readUInt()
        hash = try reader.readFixed(length: 32)
    }
}
