/// A peer connection made by public key over HyperDHT, as the peer layer sees it: the secret-stream connection, with
/// the path it runs on (direct, punched or relayed, which changes when a relayed stream is upgraded) and the
/// address it was made to in its label.
public final class DHTPeerConnection: PeerConnection {
    public let dhtConnection: HyperDHTConnection
    private var connection: SwarmConnection { dhtConnection.connection }

    public init(_ dhtConnection: HyperDHTConnection) {
        self.dhtConnection = dhtConnection
    }

    public var remotePublicKey: [UInt8] { connection.remotePublicKey }
    public var handshakeHash: [UInt8] { connection.handshakeHash }
    public var isInitiator: Bool { connection.isInitiator }
    /// "udx punched 20.0.0.2:40123" (the relay's address when relayed).
    public var label: String { "udx \(dhtConnection.path.rawValue) \(dhtConnection.remoteAddress)" }
    public var events: AsyncStream<PeerEvent> { connection.events }
    public var eventBatches: PeerEventBatches { connection.eventBatches }

    public func open(protocol name: String, id: [UInt8], handshake: [UInt8]) {
        connection.open(protocol: name, id: id, handshake: handshake)
    }

    public func send(protocol name: String, id: [UInt8], type: UInt64, message: [UInt8]) {
        connection.send(protocol: name, id: id, type: type, message: message)
    }

    public func send(protocol name: String, id: [UInt8], messages: [(type: UInt64, message: [UInt8])]) {
        connection.send(protocol: name, id: id, messages: messages)
    }

    public func close(protocol name: String, id: [UInt8]) { connection.close(protocol: name, id: id) }
    public func reject(protocol name: String, id: [UInt8]) { connection.reject(protocol: name, id: id) }
    public func disconnect() { connection.disconnect() }
    public func end() { connection.end() }
    public func waitUntilClosed() async { await connection.waitUntilClosed() }

    public func pathInfo() async -> PeerPathInfo {
        let udx = await connection.pathInfo()
        return PeerPathInfo(kind: dhtConnection.path.rawValue, roundTripTime: udx.roundTripTime)
    }
}
