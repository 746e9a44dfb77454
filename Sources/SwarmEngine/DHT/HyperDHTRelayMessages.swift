import CompactEncoding

/// The values of PEER_HANDSHAKE and PEER_HOLEPUNCH (hyperdht 6.33 `lib/messages.js` `handshake`, `holepunch`), which
/// DHT nodes pass between a client and the server that announced through them (`lib/router.js`). `mode` says which
/// leg of the relay a message is on.
public enum HyperDHTRelayMode: UInt64, Sendable {
    case fromClient = 0
    case fromServer = 1
    case fromRelay = 2
    case fromSecondRelay = 3
    case reply = 4
}

/// PEER_HANDSHAKE's value: a Noise IK message and, on relayed legs, the client's address and the relay's.
public struct HyperDHTHandshake: Sendable, Hashable, CompactCodable {
    /// The mode as sent (`HyperDHTRelayMode` when known; kept raw so that an unknown one round-trips).
    public var mode: UInt64
    public var noise: [UInt8]
    public var peerAddress: IPv4Endpoint?
    public var relayAddress: IPv4Endpoint?

    public init(mode: UInt64, noise: [UInt8], peerAddress: IPv4Endpoint? = nil, relayAddress: IPv4Endpoint? = nil) {
        self.mode = mode
        self.noise = noise
        self.peerAddress = peerAddress
        self.relayAddress = relayAddress
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt((peerAddress != nil ? 1 : 0) | (relayAddress != nil ? 2 : 0))
        writer.writeUInt(mode)
        writer.writeBuffer(noise)
        if let peerAddress { writer.write(peerAddress) }
        if let relayAddress { writer.write(relayAddress) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        mode = try reader.readUInt()
        noise = try reader.readBuffer()
        peerAddress = flags & 1 != 0 ? try reader.read(IPv4Endpoint.self) : nil
        relayAddress = flags & 2 != 0 ? try reader.read(IPv4Endpoint.self) : nil
    }
}

/// PEER_HOLEPUNCH's value: the punching session's id, its encrypted payload (`HyperDHTHolepunchPayload`, sealed with
/// the connection's holepunch secret) and, on the relayed leg, the peer's address.
public struct HyperDHTHolepunch: Sendable, Hashable, CompactCodable {
    public var mode: UInt64
    public var id: UInt64
    public var payload: [UInt8]
    public var peerAddress: IPv4Endpoint?

    public init(mode: UInt64, id: UInt64, payload: [UInt8], peerAddress: IPv4Endpoint? = nil) {
        self.mode = mode
        self.id = id
        self.payload = payload
        self.peerAddress = peerAddress
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(peerAddress != nil ? 1 : 0)
        writer.writeUInt(mode)
        writer.writeUInt(id)
        writer.writeBuffer(payload)
        if let peerAddress { writer.write(peerAddress) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        mode = try reader.readUInt()
        id = try reader.readUInt()
        payload = try reader.readBuffer()
        peerAddress = flags & 1 != 0 ? try reader.read(IPv4Endpoint.self) : nil
    }
}
