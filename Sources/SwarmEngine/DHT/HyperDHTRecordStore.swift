import CompactEncoding

/// What a persistent HyperDHT node stores for others (hyperdht 6.33 `lib/persistent.js` over `record-cache` and
/// `xache`): announced peer records per target, and mutable and immutable values. Records age as the reference's
/// caches age them: in two generations, the older dropped and the newer made older every ⅔ of the maximum age (20
/// minutes for announces, 48 hours for values), so an entry not renewed lives between ⅔ and 4⁄3 of it; a newer
/// generation beyond the size cap (65,536 records; half that for each kind of value) ages early.
///
/// One cap the reference lacks: at most `maximumPerTarget` (64) records per target (a LOOKUP returns at most 20;
/// beyond 64, an announce replaces nothing and is refused), so one topic cannot take the whole store.
///
/// A pure value: time is the caller's (milliseconds); the choice of which 20 of a target's records a LOOKUP
/// returns takes the caller's random generator.
public struct HyperDHTRecordStore: Sendable {
    public struct Limits: Sendable {
        public var maximumRecords = 65_536
        public var maximumAge: UInt64 = 20 * 60 * 1000
        public var maximumPerTarget = 64
        public var maximumValues = 32_768
        public var maximumValueAge: UInt64 = 48 * 60 * 60 * 1000
        public init() {}
    }

    /// Why a MUTABLE_PUT was refused (hyperdht's `ERROR` codes).
    public enum MutableRefusal: UInt64, Error, Sendable {
        /// Same seq as the stored record, another value.
        case seqReused = 16
        /// Older than the stored record.
        case seqTooLow = 17
    }

    public let limits: Limits
    private var freshRecords: [[UInt8]: [[UInt8]: HyperDHTPeer]] = [:]
    private var staleRecords: [[UInt8]: [[UInt8]: HyperDHTPeer]] = [:]
    private var freshCount = 0
    private var staleCount = 0
    private var nextRecordAging: UInt64
    private var freshValues: [[UInt8]: StoredValue] = [:]
    private var staleValues: [[UInt8]: StoredValue] = [:]
    private var nextValueAging: UInt64
    /// Servers that announced themselves through us (hyperdht's router `forwards`), by the hash of their key.
    private var routes: DHTAgingCache<[UInt8], Route>
    /// The highest bump announced per target (a lookup reply carries it).
    private var bumps: DHTAgingCache<[UInt8], UInt64>
    /// Announces that may be renewed by the preimage of their refresh token, by that token.
    private var refreshes: DHTAgingCache<[UInt8], Refreshable>

    /// A server that announced itself through us: where it is, as we saw it, and its record.
    public struct Route: Sendable, Equatable {
        public var relay: IPv4Endpoint
        public var peer: HyperDHTPeer
        public init(relay: IPv4Endpoint, peer: HyperDHTPeer) {
            self.relay = relay
            self.peer = peer
        }
    }

    /// What an announce with a refresh token renews.
    public struct Refreshable: Sendable, Equatable {
        public var target: [UInt8]
        public var peer: HyperDHTPeer
        public var announcesSelf: Bool
    }

    private enum StoredValue: Sendable {
        case mutable(HyperDHTMutableRecord)
        case immutable([UInt8])
    }

    public init(limits: Limits = Limits(), now: UInt64) {
        self.limits = limits
        nextRecordAging = now + Self.agingInterval(limits.maximumAge)
        nextValueAging = now + Self.agingInterval(limits.maximumValueAge)
        routes = DHTAgingCache(maximumSize: limits.maximumRecords, maximumAge: limits.maximumAge, now: now)
        bumps = DHTAgingCache(maximumSize: limits.maximumRecords, maximumAge: limits.maximumAge, now: now)
        refreshes = DHTAgingCache(maximumSize: limits.maximumRecords, maximumAge: limits.maximumAge, now: now)
    }

    static func agingInterval(_ age: UInt64) -> UInt64 { (2 * age + 2) / 3 }

    /// A peer record as a storing node keeps it, in records, routes and refreshes alike: at most three relay
    /// addresses (persistent.js cuts them so).
    static func kept(_ peer: HyperDHTPeer) -> HyperDHTPeer {
        guard peer.relayAddresses.count > 3 else { return peer }
        var kept = peer
        kept.relayAddresses = Array(peer.relayAddresses.prefix(3))
        return kept
    }

    /// How many peer records are held.
    public var recordCount: Int { freshCount + staleCount }
    public var valueCount: Int { freshValues.count + staleValues.count }
    public var routeCount: Int { routes.count }

    // MARK: - Routes

    /// A server's own announce (under the hash of its key) from `route.relay`: kept as a route for PEER_HANDSHAKE
    /// and PEER_HOLEPUNCH, and no longer among the target's plain records.
    public mutating func setRoute(_ route: Route, for target: [UInt8], now: UInt64) {
        routes.set(target, Route(relay: route.relay, peer: Self.kept(route.peer)), now: now)
        unannounce(route.peer.publicKey, under: target)
    }

    public mutating func route(for target: [UInt8], now: UInt64) -> Route? {
        routes.get(target, now: now)
    }

    public mutating func removeRoute(for target: [UInt8]) {
        routes.remove(target)
    }

    // MARK: - Bumps and refreshes

    /// Raises `target`'s bump to `bump` when it is higher and not more than a minute ahead of `wallClock` (both
    /// milliseconds since 1970, as the reference's `MAX_BUMP_DRIFT`).
    public mutating func raiseBump(_ bump: UInt64, for target: [UInt8], wallClock: UInt64, now: UInt64) {
        let current = bumps.get(target, now: now) ?? 0
        if bump > current, bump <= wallClock + 60_000 { bumps.set(target, bump, now: now) }
    }

    public mutating func bump(for target: [UInt8], now: UInt64) -> UInt64 {
        bumps.get(target, now: now) ?? 0
    }

    public mutating func setRefreshable(_ entry: Refreshable, token: [UInt8], now: UInt64) {
        var entry = entry
        entry.peer = Self.kept(entry.peer)
        refreshes.set(token, entry, now: now)
    }

    /// The announce registered under `token`, moved to `renewal` (the refresh chain: each renewal reveals the
    /// preimage of the token before it and registers the next).
    public mutating func renewRefreshable(token: [UInt8], renewal: [UInt8], now: UInt64) -> Refreshable? {
        guard let entry = refreshes.get(token, now: now) else { return nil }
        refreshes.remove(token)
        refreshes.set(renewal, entry, now: now)
        return entry
    }

    // MARK: - Announced peers

    /// Stores (or renews) `peer` under `target`, its relay addresses cut to three as the reference cuts them.
    /// False when the target already holds `maximumPerTarget` other records.
    @discardableResult
    public mutating func announce(_ peer: HyperDHTPeer, under target: [UInt8], now: UInt64) -> Bool {
        age(now: now)
        let peer = Self.kept(peer)
        let key = peer.publicKey
        if staleRecords[target]?.removeValue(forKey: key) != nil {
            staleCount -= 1
            if staleRecords[target]?.isEmpty == true { staleRecords[target] = nil }
        }
        if freshRecords[target]?[key] != nil {
            freshRecords[target]?[key] = peer
            return true
        }
        let held = (freshRecords[target]?.count ?? 0) + (staleRecords[target]?.count ?? 0)
        guard held < limits.maximumPerTarget else { return false }
        freshRecords[target, default: [:]][key] = peer
        freshCount += 1
        if freshCount > limits.maximumRecords { ageRecords() }
        return true
    }

    /// Removes `publicKey`'s record under `target` (a verified UNANNOUNCE).
    public mutating func unannounce(_ publicKey: [UInt8], under target: [UInt8]) {
        if freshRecords[target]?.removeValue(forKey: publicKey) != nil {
            freshCount -= 1
            if freshRecords[target]?.isEmpty == true { freshRecords[target] = nil }
        }
        if staleRecords[target]?.removeValue(forKey: publicKey) != nil {
            staleCount -= 1
            if staleRecords[target]?.isEmpty == true { staleRecords[target] = nil }
        }
    }

    /// Up to `count` of the records under `target`, picked at random as the reference picks them.
    public mutating func lookup(
        _ target: [UInt8], count: Int = 20, now: UInt64, using generator: inout some RandomNumberGenerator
    ) -> [HyperDHTPeer] {
        age(now: now)
        var all = Array(freshRecords[target]?.values ?? [:].values) + Array(staleRecords[target]?.values ?? [:].values)
        all.shuffle(using: &generator)
        return Array(all.prefix(count))
    }

    // MARK: - Values

    /// A verified MUTABLE_PUT: stored unless it reuses the stored seq with another value or goes back.
    public mutating func putMutable(_ record: HyperDHTMutableRecord, at target: [UInt8], now: UInt64) throws(MutableRefusal) {
        age(now: now)
        if case .mutable(let stored)? = freshValues[target] ?? staleValues[target] {
            if stored.seq == record.seq, stored.value != record.value { throw .seqReused }
            if record.seq < stored.seq { throw .seqTooLow }
        }
        setValue(.mutable(record), at: target)
    }

    /// MUTABLE_GET: the stored record when its seq is at least `minimumSeq`.
    public mutating func mutable(at target: [UInt8], minimumSeq: UInt64, now: UInt64) -> HyperDHTMutableRecord? {
        age(now: now)
        guard case .mutable(let stored)? = freshValues[target] ?? staleValues[target], stored.seq >= minimumSeq else {
            return nil
        }
        return stored
    }

    /// A verified IMMUTABLE_PUT (the caller checked that `target` is the value's hash).
    public mutating func putImmutable(_ value: [UInt8], at target: [UInt8], now: UInt64) {
        age(now: now)
        setValue(.immutable(value), at: target)
    }

    public mutating func immutable(at target: [UInt8], now: UInt64) -> [UInt8]? {
        age(now: now)
        guard case .immutable(let value)? = freshValues[target] ?? staleValues[target] else { return nil }
        return value
    }

    // MARK: - Aging

    /// Ages whichever generations are due (the reference's interval timers, driven by the caller's clock).
    public mutating func age(now: UInt64) {
        while now >= nextRecordAging {
            ageRecords()
            nextRecordAging += Self.agingInterval(limits.maximumAge)
        }
        while now >= nextValueAging {
            ageValues()
            nextValueAging += Self.agingInterval(limits.maximumValueAge)
        }
    }

    private mutating func ageRecords() {
        staleRecords = freshRecords
        staleCount = freshCount
        freshRecords = [:]
        freshCount = 0
    }

    private mutating func ageValues() {
        staleValues = freshValues
        freshValues = [:]
    }

    private mutating func setValue(_ value: StoredValue, at target: [UInt8]) {
        staleValues[target] = nil
        freshValues[target] = value
        if freshValues.count >= limits.maximumValues { ageValues() }
    }
}
