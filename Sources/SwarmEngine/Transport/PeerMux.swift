/// One authenticated, encrypted connection to another gateway, seen as protomux channels.
///
/// The gateway only needs what protomux gives: channels named by a protocol string and an id, opened with a
/// handshake, carrying typed messages. `SwarmEngine` provides it over secret-stream (TCP now, UDX later);
/// `InMemoryPeerLink` provides it inside one process for tests.
public protocol PeerMux: Sendable {
    /// The remote gateway's Ed25519 identity (authenticated by the Noise handshake).
    var remotePublicKey: [UInt8] { get }
    /// The connection's handshake hash: replication capabilities bind to it.
    var handshakeHash: [UInt8] { get }
    /// Whether we dialled (our role in the handshake).
    var isInitiator: Bool { get }
    /// A human-readable address for logs and `/msg PearServ peers`.
    var label: String { get }

    func open(protocol name: String, id: [UInt8], handshake: [UInt8])
    func send(protocol name: String, id: [UInt8], type: UInt64, message: [UInt8])
    /// Several messages on one channel, in order, handed over at once: a transport may write them together (one
    /// protomux batch frame, one encryption, one socket write) instead of one by one.
    func send(protocol name: String, id: [UInt8], messages: [(type: UInt64, message: [UInt8])])
    func close(protocol name: String, id: [UInt8])
    /// Refuses a channel the peer opened and we will not open (the peer sees it closed).
    func reject(protocol name: String, id: [UInt8])
    /// Ends the whole connection at once, dropping what is not written yet (used when the peer misbehaves).
    func disconnect()
    /// Ends the connection cleanly: what was already sent is still delivered, and the peer sees an end, not a reset.
    func end()
    /// How the connection runs now (it may move, e.g. from a relay to a punched path), for `/msg PearServ peers`.
    func pathInfo() async -> PeerPathInfo
}

/// How a connection to a peer runs: its kind of path and, where the transport measures it, the round-trip time.
public struct PeerPathInfo: Sendable, Hashable {
    /// "TCP", "direct", "punched", "relayed", or the transport's own word.
    public var kind: String
    public var roundTripTime: Duration?

    public init(kind: String, roundTripTime: Duration? = nil) {
        self.kind = kind
        self.roundTripTime = roundTripTime
    }
}

extension PeerMux {
    public func pathInfo() async -> PeerPathInfo { PeerPathInfo(kind: label) }

    public func send(protocol name: String, id: [UInt8], messages: [(type: UInt64, message: [UInt8])]) {
        for (type, message) in messages { send(protocol: name, id: id, type: type, message: message) }
    }
}

/// What arrives on a `PeerMux`.
public enum PeerEvent: Sendable, Equatable {
    /// The peer opened a channel, with its handshake; reported once, whether or not we have opened it yet.
    /// Messages it sends before we open the channel too are held and delivered after our `open`.
    case opened(protocol: String, id: [UInt8], handshake: [UInt8])
    case message(protocol: String, id: [UInt8], type: UInt64, message: [UInt8])
    /// The peer closed the channel, or refused our open.
    case closed(protocol: String, id: [UInt8])
    /// The connection is gone.
    case disconnected
}
