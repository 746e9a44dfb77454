import CompactEncoding

/// The payload of HyperDHT's Noise IK handshake messages (hyperdht 6.33 `lib/messages.js` `noisePayload`): what a
/// client and a server tell each other while connecting — their firewall class, addresses, the UDX stream to use,
/// holepunch and relay details. A version other than 1 is read no further (the server answers VERSION_MISMATCH).
public struct HyperDHTNoisePayload: Sendable, Hashable, CompactCodable {
    public struct Holepunch: Sendable, Hashable {
        public var id: UInt64
        public var relays: [(relayAddress: IPv4Endpoint, peerAddress: IPv4Endpoint)]

        public init(id: UInt64, relays: [(relayAddress: IPv4Endpoint, peerAddress: IPv4Endpoint)]) {
            self.id = id
            self.relays = relays
        }

        public static func == (a: Self, b: Self) -> Bool {
            a.id == b.id && a.relays.elementsEqual(b.relays) { $0.relayAddress == $1.relayAddress && $0.peerAddress == $1.peerAddress }
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(id)
            for relay in relays {
                hasher.combine(relay.relayAddress)
                hasher.combine(relay.peerAddress)
            }
        }
    }

    public struct UDX: Sendable, Hashable {
        public var version: UInt64
        public var reusableSocket: Bool
        public var id: UInt64
        public var seq: UInt64

        public init(version: UInt64 = 1, reusableSocket: Bool, id: UInt64, seq: UInt64) {
            self.version = version
            self.reusableSocket = reusableSocket
            self.id = id
            self.seq = seq
        }
    }

    public struct RelayThrough: Sendable, Hashable {
        public var version: UInt64
        public var publicKey: [UInt8]
        public var token: [UInt8]

        public init(version: UInt64 = 1, publicKey: [UInt8], token: [UInt8]) {
            self.version = version
            self.publicKey = publicKey
            self.token = token
        }
    }

    public var version: UInt64
    public var error: UInt64
    public var firewall: UInt64
    public var holepunch: Holepunch?
    public var addresses4: [IPv4Endpoint]
    public var addresses6: [IPv6Endpoint]
    public var udx: UDX?
    /// secret-stream's version when the peer offers it (always 1 today).
    public var secretStreamVersion: UInt64?
    public var relayThrough: RelayThrough?
    public var relayAddresses: [IPv4Endpoint]?

    public init(
        version: UInt64 = 1, error: UInt64 = 0, firewall: UInt64, holepunch: Holepunch? = nil,
        addresses4: [IPv4Endpoint] = [], addresses6: [IPv6Endpoint] = [], udx: UDX? = nil,
        secretStreamVersion: UInt64? = nil, relayThrough: RelayThrough? = nil, relayAddresses: [IPv4Endpoint]? = nil
    ) {
        self.version = version
        self.error = error
        self.firewall = firewall
        self.holepunch = holepunch
        self.addresses4 = addresses4
        self.addresses6 = addresses6
        self.udx = udx
        self.secretStreamVersion = secretStreamVersion
        self.relayThrough = relayThrough
        self.relayAddresses = relayAddresses
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        var flags: UInt64 = 0
        if holepunch != nil { flags |= 1 }
        if !addresses4.isEmpty { flags |= 2 }
        if !addresses6.isEmpty { flags |= 4 }
        if udx != nil { flags |= 8 }
        if secretStreamVersion != nil { flags |= 16 }
        if relayThrough != nil { flags |= 32 }
        if relayAddresses != nil { flags |= 64 }
        // The reference always writes version 1.
        writer.writeUInt(1)
        writer.writeUInt(flags)
        writer.writeUInt(error)
        writer.writeUInt(firewall)
        if let holepunch {
            writer.writeUInt(holepunch.id)
            writer.writeArray(holepunch.relays) { writer, relay in
                writer.write(relay.relayAddress)
                writer.write(relay.peerAddress)
            }
        }
        if !addresses4.isEmpty { writer.writeArray(addresses4) { writer, address in writer.write(address) } }
        if !addresses6.isEmpty { writer.writeArray(addresses6) { writer, address in writer.write(address) } }
        if let udx {
            writer.writeUInt(1)
            writer.writeUInt(udx.reusableSocket ? 1 : 0)
            writer.writeUInt(udx.id)
            writer.writeUInt(udx.seq)
        }
        if secretStreamVersion != nil { writer.writeUInt(1) }
        if let relayThrough {
            writer.writeUInt(1)
            writer.writeUInt(0)
            writer.writeFixed(relayThrough.publicKey, length: 32)
            writer.writeFixed(relayThrough.token, length: 32)
        }
        if let relayAddresses { writer.writeArray(relayAddresses) { writer, address in writer.write(address) } }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let version = try reader.readUInt()
        guard version == 1 else {
            self.init(version: version, firewall: 0)
            return
        }
        let flags = try reader.readUInt()
        let error = try reader.readUInt()
        let firewall = try reader.readUInt()
        var holepunch: Holepunch?
        if flags & 1 != 0 {
            let id = try reader.readUInt()
            let relays = try reader.readArray(minimumElementSize: 12) { reader throws(CompactEncodingError) in
                (relayAddress: try reader.read(IPv4Endpoint.self), peerAddress: try reader.read(IPv4Endpoint.self))
            }
            holepunch = Holepunch(id: id, relays: relays)
        }
        let addresses4 = flags & 2 != 0
            ? try reader.readArray(minimumElementSize: 6) { reader throws(CompactEncodingError) in try reader.read(IPv4Endpoint.self) }
            : []
        let addresses6 = flags & 4 != 0
            ? try reader.readArray(minimumElementSize: 18) { reader throws(CompactEncodingError) in try reader.read(IPv6Endpoint.self) }
            : []
        var udx: UDX?
        if flags & 8 != 0 {
            let version = try reader.readUInt()
            let features = try reader.readUInt()
            udx = UDX(version: version, reusableSocket: features & 1 != 0, id: try reader.readUInt(), seq: try reader.readUInt())
        }
        let secretStreamVersion = flags & 16 != 0 ? try reader.readUInt() : nil
        var relayThrough: RelayThrough?
        if flags & 32 != 0 {
            let version = try reader.readUInt()
            _ = try reader.readUInt()
            relayThrough = RelayThrough(
                version: version, publicKey: try reader.readFixed(length: 32), token: try reader.readFixed(length: 32))
        }
        let relayAddresses = flags & 64 != 0
            ? try reader.readArray(minimumElementSize: 6) { reader throws(CompactEncodingError) in try reader.read(IPv4Endpoint.self) }
            : nil
        self.init(
            version: version, error: error, firewall: firewall, holepunch: holepunch, addresses4: addresses4,
            addresses6: addresses6, udx: udx, secretStreamVersion: secretStreamVersion, relayThrough: relayThrough,
            relayAddresses: relayAddresses)
    }
}

/// What two peers exchange, encrypted, in PEER_HOLEPUNCH while punching (hyperdht `holepunchPayload`): whether they
/// are connected or punching, their firewall class and round, the addresses to try, and the tokens that prove
/// a probe came from the peer.
public struct HyperDHTHolepunchPayload: Sendable, Hashable, CompactCodable {
    public var error: UInt64
    public var firewall: UInt64
    public var round: UInt64
    public var connected: Bool
    public var punching: Bool
    public var addresses: [IPv4Endpoint]?
    public var remoteAddress: IPv4Endpoint?
    public var token: [UInt8]?
    public var remoteToken: [UInt8]?

    public init(
        error: UInt64 = 0, firewall: UInt64, round: UInt64, connected: Bool, punching: Bool,
        addresses: [IPv4Endpoint]? = nil, remoteAddress: IPv4Endpoint? = nil, token: [UInt8]? = nil,
        remoteToken: [UInt8]? = nil
    ) {
        self.error = error
        self.firewall = firewall
        self.round = round
        self.connected = connected
        self.punching = punching
        self.addresses = addresses
        self.remoteAddress = remoteAddress
        self.token = token
        self.remoteToken = remoteToken
    }

    public func encode<W: CompactWriter>(to writer: inout W) {
        var flags: UInt64 = 0
        if connected { flags |= 1 }
        if punching { flags |= 2 }
        if addresses != nil { flags |= 4 }
        if remoteAddress != nil { flags |= 8 }
        if token != nil { flags |= 16 }
        if remoteToken != nil { flags |= 32 }
        writer.writeUInt(flags)
        writer.writeUInt(error)
        writer.writeUInt(firewall)
        writer.writeUInt(round)
        if let addresses { writer.writeArray(addresses) { writer, address in writer.write(address) } }
        if let remoteAddress { writer.write(remoteAddress) }
        if let token { writer.writeFixed(token, length: 32) }
        if let remoteToken { writer.writeFixed(remoteToken, length: 32) }
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let flags = try reader.readUInt()
        error = try reader.readUInt()
        firewall = try reader.readUInt()
        round = try reader.readUInt()
        connected = flags & 1 != 0
        punching = flags & 2 != 0
        addresses = flags & 4 != 0
            ? try reader.readArray(minimumElementSize: 6) { reader throws(CompactEncodingError) in try reader.read(IPv4Endpoint.self) }
            : nil
        remoteAddress = flags & 8 != 0 ? try reader.read(IPv4Endpoint.self) : nil
        token = flags & 16 != 0 ? try reader.readFixed(length: 32) : nil
        remoteToken = flags & 32 != 0 ? try reader.readFixed(length: 32) : nil
    }
}
