/// Someone worth dialling for a topic: an address, and the peer's public key when the discovery knows it.
public struct PeerCandidate: Hashable, Sendable {
    public var address: PeerAddress
    public var publicKey: [UInt8]?

    public init(address: PeerAddress, publicKey: [UInt8]? = nil) {
        self.address = address
        self.publicKey = publicKey
    }
}

/// Finds peers for topics: a gateway joins a room's topic and is handed candidates to dial. Static addresses today
/// (`StaticPeerDiscovery`); HyperDHT announce and lookup next.
public protocol PeerDiscovery: Sendable {
    /// Start looking for (and being found under) `topic`.
    func join(topic: [UInt8]) async
    /// Stop announcing `topic`; connections already made stay.
    func leave(topic: [UInt8]) async
    /// Candidates as they are found, for as long as the discovery runs.
    var candidates: AsyncStream<PeerCandidate> { get }
}

/// The peers given on the command line (`--peer HOST:PORT`) or in the configuration file: candidates for every topic,
/// handed out once. Joining and leaving topics changes nothing: a static peer is dialled whatever rooms we are in.
public final class StaticPeerDiscovery: PeerDiscovery {
    public let candidates: AsyncStream<PeerCandidate>

    public init(_ addresses: [PeerAddress]) {
        let (stream, continuation) = AsyncStream<PeerCandidate>.makeStream()
        for address in addresses { continuation.yield(PeerCandidate(address: address)) }
        continuation.finish()
        candidates = stream
    }

    public func join(topic: [UInt8]) async {}
    public func leave(topic: [UInt8]) async {}
}
