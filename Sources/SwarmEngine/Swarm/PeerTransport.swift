/// Where a peer can be dialled.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, with brackets around an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`; nil when malformed or the port is out of range.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        var host = Substring(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }
}

/// An authenticated, encrypted connection to a peer as the layers above use it: protomux channels (`PeerMux`) and
/// the events arriving on them, ending with `.disconnected`.
public protocol PeerConnection: PeerMux {
    var events: AsyncStream<PeerEvent> { get }
    /// The same events in batches: everything that had arrived when the consumer asked, so what one read delivered
    /// can be handled in one step. Consume either this or `events`, not both.
    var eventBatches: PeerEventBatches { get }
    /// Returns once the connection is closed, by either side.
    func waitUntilClosed() async
}

/// How connections to peers are made: TCP with Noise XX today (`SwarmTransport`), UDX next, where the HyperDHT's IK
/// handshake agrees the keys before the stream starts (`SecretStreamSession(isInitiator:handshake:)` takes them).
public protocol PeerTransport: Sendable {
    /// Dials `address`; with `expectedRemoteKey`, a peer proving another identity is refused during the handshake.
    func connect(to address: PeerAddress, expectedRemoteKey: [UInt8]?) async throws -> any PeerConnection
    /// Accepts connections on `host:port` (port 0 picks one); each one that completes its handshake goes to
    /// `onConnection`. Returns the bound port.
    func listen(host: String, port: Int, onConnection: @escaping @Sendable (any PeerConnection) -> Void) async throws -> Int
    /// Closes the listeners and releases the transport's threads.
    func shutdown() async throws
}
