/// Which peer connections to keep: one per remote public key, none to ourselves or to a peer banned for
/// misbehaviour. Pure (time is passed in), so every rule is testable without sockets.
///
/// Two gateways that dial each other at once each end up holding two connections to the other. Both sides must
/// then keep the same one without talking about it, so the choice depends only on what both see: the connection
/// dialled by the peer with the larger public key (bytewise) stays — Hyperswarm's rule (`_handleServerConnection`:
/// `expectedInitiator = compare(local, remote) > 0`), so that a Node peer and we keep the same one. Two connections in the same direction mean the dialler
/// reconnected (its old connection died without us noticing yet): the newer one stays, as Hyperswarm decides. That
/// rule agrees on both sides as long as the dialler does not race two dials to the same peer, which
/// `PeerConnectionManager` avoids (one dialler per address, and none while the peer's key is connected).
public struct PeerConnectionTable: Sendable {
    public typealias ConnectionID = UInt64

    public struct Connection: Hashable, Sendable {
        public var id: ConnectionID
        public var remoteKey: [UInt8]
        /// Whether we dialled it.
        public var isInitiator: Bool

        public init(id: ConnectionID, remoteKey: [UInt8], isInitiator: Bool) {
            self.id = id
            self.remoteKey = remoteKey
            self.isInitiator = isInitiator
        }
    }

    public enum Refusal: Hashable, Sendable {
        /// The peer is banned until then.
        case banned(until: ContinuousClock.Instant)
        /// A connection to ourselves (a static peer entry pointing back at this gateway).
        case ownKey
        /// Another connection to the same peer is the one both sides keep.
        case duplicate(of: ConnectionID)
        /// As many peers are connected as the cap allows (Hyperswarm's `maxPeers`).
        case full
    }

    public enum Decision: Hashable, Sendable {
        case keep
        /// Keep the new connection and end this older one.
        case replace(ConnectionID)
        case refuse(Refusal)
    }

    public let localKey: [UInt8]
    /// The most peers connected at once (Hyperswarm's `maxPeers`, 64 by default): a new peer beyond it is refused;
    /// a second connection to a peer already connected is not a new peer and is decided as always.
    public let maximumPeers: Int
    public private(set) var connections: [[UInt8]: Connection] = [:]
    private var bans: [[UInt8]: ContinuousClock.Instant] = [:]

    public init(localKey: [UInt8], maximumPeers: Int = 64) {
        self.localKey = localKey
        self.maximumPeers = maximumPeers
    }

    /// Whether another peer may connect now.
    public var hasRoom: Bool { connections.count < maximumPeers }

    /// A connection finished its handshake: keep it or not.
    public mutating func established(_ connection: Connection, now: ContinuousClock.Instant) -> Decision {
        if let until = banExpiry(connection.remoteKey, now: now) { return .refuse(.banned(until: until)) }
        guard connection.remoteKey != localKey else { return .refuse(.ownKey) }
        guard let existing = connections[connection.remoteKey] else {
            guard hasRoom else { return .refuse(.full) }
            connections[connection.remoteKey] = connection
            return .keep
        }
        let keepNew: Bool
        if existing.isInitiator == connection.isInitiator {
            keepNew = true
        } else {
            let newDialler = connection.isInitiator ? localKey : connection.remoteKey
            let oldDialler = existing.isInitiator ? localKey : existing.remoteKey
            keepNew = oldDialler.lexicographicallyPrecedes(newDialler)
        }
        guard keepNew else { return .refuse(.duplicate(of: existing.id)) }
        connections[connection.remoteKey] = connection
        return .replace(existing.id)
    }

    /// A kept connection closed.
    public mutating func closed(_ id: ConnectionID, remoteKey: [UInt8]) {
        if connections[remoteKey]?.id == id { connections[remoteKey] = nil }
    }

    /// Bans a peer until `until`; returns its current connection, which the caller ends.
    public mutating func ban(_ key: [UInt8], until: ContinuousClock.Instant) -> ConnectionID? {
        bans[key] = max(until, bans[key] ?? until)
        return connections[key]?.id
    }

    /// When the peer's ban ends, if it is banned at `now` (expired bans are forgotten).
    public mutating func banExpiry(_ key: [UInt8], now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard let until = bans[key] else { return nil }
        guard until > now else {
            bans[key] = nil
            return nil
        }
        return until
    }

    public func isConnected(_ key: [UInt8]) -> Bool { connections[key] != nil }

    public func connection(to key: [UInt8]) -> ConnectionID? { connections[key]?.id }
}
