import CompactEncoding

/// HyperDHT's stored records and their messages (hyperdht 6.33 `lib/messages.js`): what ANNOUNCE puts on a node,
/// what LOOKUP and FIND_PEER return, and the mutable/immutable values. Decoders are as lenient as the reference's
/// (bytes after the last field are ignored) and as strict about fields cut short (an error, the request dropped).

/// A peer record: its public key and up to three relay addresses (the DHT nodes it announced through, where a
/// client sends its PEER_HANDSHAKE).
public struct HyperDHTPeer: Sendable, Hashable, CompactCodable {
    public var publicKey: [UInt8]
    public var relayAddresses: [IPv4Endpoint]

    public init(publicKey: [UInt8], relayAddresses: [IPv4Endpoint] = []) {
        self.publicKey = publicKey
        self.relayAddresses = relayAddresses
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeFixed(publicKey, length: 32)
        writer.writeArray(relayAddresses) { writer, address in writer.write(address) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        publicKey = try reader.readFixed(length: 32)
        relayAddresses = try reader.readArray(minimumElementSize: 6) { reader throws(CompactEncodingError) in
            try reader.read(IPv4Endpoint.self)
        }
    }
}

/// `peers`: an array of peer records (a FIND_PEER reply's value is one peer; LOOKUP replies use `HyperDHTLookupReply`).
public struct HyperDHTPeers: Sendable, Hashable, CompactCodable {
    public var peers: [HyperDHTPeer]

    public init(_ peers: [HyperDHTPeer]) { self.peers = peers }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeArray(peers) { writer, peer in writer.write(peer) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        peers = try reader.readArray(minimumElementSize: 33) { reader throws(CompactEncodingError) in
            try reader.read(HyperDHTPeer.self)
        }
    }
}

/// A LOOKUP reply's value (`lookupRawReply`): the stored peer records (at most 20) and the `bump` counter; a reply
/// without the bump (older nodes) reads as 0.
public struct HyperDHTLookupReply: Sendable, Hashable, CompactCodable {
    public var peers: [HyperDHTPeer]
    public var bump: UInt64

    public init(peers: [HyperDHTPeer], bump: UInt64 = 0) {
        self.peers = peers
        self.bump = bump
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeArray(peers) { writer, peer in writer.write(peer) }
        writer.writeUInt(bump)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        peers = try reader.readArray(minimumElementSize: 33) { reader throws(CompactEncodingError) in
            try reader.read(HyperDHTPeer.self)
        }
        bump = reader.isAtEnd ? 0 : try reader.readUInt()
    }
}

/// ANNOUNCE's and UNANNOUNCE's value: the peer record, a refresh token (to renew without re-signing), the signature
/// over `HyperDHTSignatures.announceSignable`, and the bump counter.
public struct HyperDHTAnnounce: Sendable, Hashable, CompactCodable {
    public var peer: HyperDHTPeer?
    public var refresh: [UInt8]?
    public var signature: [UInt8]?
    public var bump: UInt64

    public init(peer: HyperDHTPeer?, refresh: [UInt8]? = nil, signature: [UInt8]? = nil, bump: UInt64 = 0) {
        self.peer = peer
        self.refresh = refresh
        self.signature = signature
        self.bump = bump
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        var flags: UInt64 = 0
        if peer != nil { flags |= 1 }
        if refresh != nil { flags |= 2 }
        if signature != nil { flags |= 4 }
        if bump != 0 { flags |= 8 }
        writer.writeUInt(flags)
        if let peer { writer.write(peer) }
        if let refresh { writer.writeFixed(refresh, length: 32) }
        if let signature { writer.writeFixed(signature, length: 64) }
        if bump != 0 { writer.writeUInt(bump) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        peer = flags & 1 != 0 ? try reader.read(HyperDHTPeer.self) : nil
        refresh = flags & 2 != 0 ? try reader.readFixed(length: 32) : nil
        signature = flags & 4 != 0 ? try reader.readFixed(length: 64) : nil
        bump = flags & 8 != 0 ? try reader.readUInt() : 0
    }
}

/// What a mutable record's signature covers: its sequence number and value.
public struct HyperDHTMutableSignable: Sendable, Hashable, CompactCodable {
    public var seq: UInt64
    public var value: [UInt8]

    public init(seq: UInt64, value: [UInt8]) {
        self.seq = seq
        self.value = value
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(seq)
        writer.writeBuffer(value)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        seq = try reader.readUInt()
        value = try reader.readBuffer()
    }
}

/// MUTABLE_PUT's value: the writer's public key (the record's target is its BLAKE2b-256), seq, value, signature.
public struct HyperDHTMutablePut: Sendable, Hashable, CompactCodable {
    public var publicKey: [UInt8]
    public var seq: UInt64
    public var value: [UInt8]
    public var signature: [UInt8]

    public init(publicKey: [UInt8], seq: UInt64, value: [UInt8], signature: [UInt8]) {
        self.publicKey = publicKey
        self.seq = seq
        self.value = value
        self.signature = signature
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeFixed(publicKey, length: 32)
        writer.writeUInt(seq)
        writer.writeBuffer(value)
        writer.writeFixed(signature, length: 64)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        publicKey = try reader.readFixed(length: 32)
        seq = try reader.readUInt()
        value = try reader.readBuffer()
        signature = try reader.readFixed(length: 64)
    }
}

/// MUTABLE_GET's reply value: seq, value and signature of the stored record.
public struct HyperDHTMutableRecord: Sendable, Hashable, CompactCodable {
    public var seq: UInt64
    public var value: [UInt8]
    public var signature: [UInt8]

    public init(seq: UInt64, value: [UInt8], signature: [UInt8]) {
        self.seq = seq
        self.value = value
        self.signature = signature
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(seq)
        writer.writeBuffer(value)
        writer.writeFixed(signature, length: 64)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        seq = try reader.readUInt()
        value = try reader.readBuffer()
        signature = try reader.readFixed(length: 64)
    }
}

extension CompactDecodable {
    /// Decodes as the reference's `c.decode` does: bytes after the message are ignored.
    public init(leniently bytes: [UInt8]) throws(CompactEncodingError) {
        var reader = CompactReader(bytes)
        self = try Self(from: &reader)
    }
}
