import CompactEncoding
import Sodium

/// A Hypercore manifest: who may sign the log and how. The core key is the hash of its encoding, so two peers
/// agree on a key exactly when they agree on the manifest bytes.
///
/// Matches `hypercore` 11 `lib/messages.js` manifest version 1 (the default for new cores): `uint version`,
/// `uint flags` (1 allowPatch, 2 prologue, 4 linked, 8 userData), `uint hash` (0 = BLAKE2b), `uint quorum`,
/// `array(signer)`, then the optional fields their flags announce.
public struct Manifest: Hashable, Sendable, CompactCodable {
    /// One signer: a signature scheme, a namespace that domain-separates its signatures, and its public key.
    public struct Signer: Hashable, Sendable, CompactCodable {
        public static let ed25519: UInt64 = 0

        public var signature: UInt64
        public var namespace: [UInt8]
        public var publicKey: [UInt8]

        public init(signature: UInt64 = Signer.ed25519, namespace: [UInt8], publicKey: [UInt8]) {
            self.signature = signature
            self.namespace = namespace
            self.publicKey = publicKey
        }

        public func encode<W: CompactWriter>(to writer: inout W) {
            writer.writeUInt(signature)
            writer.writeFixed(namespace, length: 32)
            writer.writeFixed(publicKey, length: 32)
        }

        public init(from reader: inout CompactReader) throws(CompactEncodingError) {
            signature = try reader.readUInt()
            guard signature == Signer.ed25519 else { throw .invalidValue("unknown signature scheme \(signature)") }
            namespace = try reader.readFixed(length: 32)
            publicKey = try reader.readFixed(length: 32)
        }
    }

    /// The tree this core continues from (hash and length of a previous core's tree).
    public struct Prologue: Hashable, Sendable, CompactCodable {
        public var hash: [UInt8]
        public var length: UInt64

        public init(hash: [UInt8], length: UInt64) {
            self.hash = hash
            self.length = length
        }

        public func encode<W: CompactWriter>(to writer: inout W) {
            writer.writeFixed(hash, length: 32)
            writer.writeUInt(length)
        }

        public init(from reader: inout CompactReader) throws(CompactEncodingError) {
            hash = try reader.readFixed(length: 32)
            length = try reader.readUInt()
        }
    }

    public static let blake2b: UInt64 = 0
    static let maximumSigners = 64

    public var version: UInt64
    public var hash: UInt64
    public var allowPatch: Bool
    public var quorum: UInt64
    public var signers: [Signer]
    public var prologue: Prologue?
    public var linked: [[UInt8]]?
    public var userData: [UInt8]?

    public init(
        version: UInt64 = 1, hash: UInt64 = Manifest.blake2b, allowPatch: Bool = false, quorum: UInt64 = 1,
        signers: [Signer], prologue: Prologue? = nil, linked: [[UInt8]]? = nil, userData: [UInt8]? = nil
    ) {
        self.version = version
        self.hash = hash
        self.allowPatch = allowPatch
        self.quorum = quorum
        self.signers = signers
        self.prologue = prologue
        self.linked = linked
        self.userData = userData
    }

    /// The manifest hypercore makes for a plain single-writer core: version 1, one Ed25519 signer under the
    /// default namespace.
    public static func singleSigner(publicKey: [UInt8]) -> Manifest {
        Manifest(signers: [Signer(namespace: HypercoreNamespace.defaultNamespace, publicKey: publicKey)])
    }

    /// The core key: `BLAKE2b-256(MANIFEST namespace ‖ encoded manifest)`.
    public var key: [UInt8] {
        BLAKE2b.hash256(parts: [HypercoreNamespace.manifest, compactEncoded()])
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(version)
        var flags: UInt64 = 0
        if allowPatch { flags |= 1 }
        if prologue != nil { flags |= 2 }
        if linked != nil { flags |= 4 }
        if userData != nil { flags |= 8 }
        writer.writeUInt(flags)
        writer.writeUInt(hash)
        writer.writeUInt(quorum)
        writer.writeArray(signers) { $0.write($1) }
        if let prologue { writer.write(prologue) }
        if let linked { writer.writeArray(linked) { $0.writeFixed($1, length: 32) } }
        if let userData { writer.writeBuffer(userData) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        version = try reader.readUInt()
        guard version == 1 else { throw .invalidValue("unsupported manifest version \(version)") }
        let flags = try reader.readUInt()
        guard flags & ~0xf == 0 else { throw .invalidValue("unknown manifest flags \(flags)") }
        allowPatch = flags & 1 != 0
        hash = try reader.readUInt()
        guard hash == Manifest.blake2b else { throw .invalidValue("unknown manifest hash \(hash)") }
        quorum = try reader.readUInt()
        signers = try reader.readArray(minimumElementSize: 65, limit: Manifest.maximumSigners) {
            (r: inout CompactReader) throws(CompactEncodingError) in try r.read(Signer.self)
        }
        prologue = flags & 2 != 0 ? try reader.read(Prologue.self) : nil
        linked = flags & 4 != 0
            ? try reader.readArray(minimumElementSize: 32, limit: 1024) {
                (r: inout CompactReader) throws(CompactEncodingError) in try r.readFixed(length: 32)
            } : nil
        userData = flags & 8 != 0 ? try reader.readBuffer(limit: 65536) : nil
    }
}
