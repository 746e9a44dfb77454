/// Someone worth dialling: an address (a static peer, `--peer`), with the peer's public key when known, or only a
/// public key (a peer found on the DHT under a topic, dialled by key through HyperDHT).
public struct PeerCandidate: Hashable, Sendable, CustomStringConvertible {
    /// What a dialler is kept per: one loop per address, one per key found on the DHT.
    public enum Target: Hashable, Sendable, CustomStringConvertible {
        case address(PeerAddress)
        case publicKey([UInt8])

        public var description: String {
            switch self {
            case .address(let address): "\(address)"
            case .publicKey(let key): "key " + PeerConnectionManager.shortKey(key)
            }
        }
    }

    public var address: PeerAddress?
    public var publicKey: [UInt8]?

    /// A peer at an address (its key checked during the handshake when given).
    public init(address: PeerAddress, publicKey: [UInt8]? = nil) {
        self.address = address
        self.publicKey = publicKey
    }

    /// A peer known by its public key alone, dialled through the DHT.
    public init(publicKey: [UInt8]) {
        address = nil
        self.publicKey = publicKey
    }

    public var target: Target {
        if let address { return .address(address) }
        return .publicKey(publicKey ?? [])
    }

    public var description: String { target.description }
}

/// Finds peers for topics: a gateway joins a room's topic and is handed candidates to dial. Static addresses
/// (`StaticPeerDiscovery`), the HyperDHT (`DHTSwarm`), or both (`CombinedPeerDiscovery`).
public protocol PeerDiscovery: Sendable {
    /// Start looking for (and being found under) `topic`. Returns at once: the search runs in the background.
    func join(topic: [UInt8]) async
    /// Stop announcing `topic`; connections already made stay.
    func leave(topic: [UInt8]) async
    /// Candidates as they are found, for as long as the discovery runs. A candidate may come again (each lookup finds
    /// the same peers): the consumer keeps one dialler per target.
    var candidates: AsyncStream<PeerCandidate> { get }
    /// Keep looking for (dialling) the peer with this public key, found under no topic: someone we have something
    /// for (a direct message kept while they were away). `false` stops.
    func seek(publicKey: [UInt8], _ seeking: Bool) async
    /// Keep looking up `topic` without announcing ourselves under it (someone else's topic: a person we must reach,
    /// announced under their own); `false` stops.
    func lookUp(topic: [UInt8], _ looking: Bool) async
}

extension PeerDiscovery {
    /// Discoveries that cannot dial keys (static peers) find no one this way.
    public func seek(publicKey: [UInt8], _ seeking: Bool) async {}
    /// Discoveries without topics (static peers) find no one this way.
    public func lookUp(topic: [UInt8], _ looking: Bool) async {}
}

/// Dials peers by public key alone (HyperDHT's connect: the DHT finds where the key's server is and the two sides
/// punch through their NATs or meet through a relay).
public protocol PeerKeyDialler: Sendable {
    func connect(toPublicKey key: [UInt8]) async throws -> any PeerConnection
    /// Whether `key` is still worth dialling (found under a topic we are still in).
    func isWanted(_ key: [UInt8]) async -> Bool
}

extension PeerKeyDialler {
    public func isWanted(_ key: [UInt8]) async -> Bool { true }
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

/// Several discoveries as one: joins and leaves go to each, candidates come from all (the stream ends when every
/// part's has ended).
public final class CombinedPeerDiscovery: PeerDiscovery {
    private let parts: [any PeerDiscovery]
    public let candidates: AsyncStream<PeerCandidate>

    public init(_ parts: [any PeerDiscovery]) {
        self.parts = parts
        let (stream, continuation) = AsyncStream<PeerCandidate>.makeStream()
        candidates = stream
        let pump = Task {
            await withDiscardingTaskGroup { group in
                for part in parts {
                    group.addTask {
                        for await candidate in part.candidates { continuation.yield(candidate) }
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in pump.cancel() }
    }

    public func join(topic: [UInt8]) async {
        for part in parts { await part.join(topic: topic) }
    }

    public func leave(topic: [UInt8]) async {
        for part in parts { await part.leave(topic: topic) }
    }

    public func seek(publicKey: [UInt8], _ seeking: Bool) async {
        for part in parts { await part.seek(publicKey: publicKey, seeking) }
    }

    public func lookUp(topic: [UInt8], _ looking: Bool) async {
        for part in parts { await part.lookUp(topic: topic, looking) }
    }
}
