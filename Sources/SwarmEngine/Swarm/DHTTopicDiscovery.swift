import CompactEncoding
import NIOCore
import Sodium

/// Hyperswarm's topic discovery (hyperswarm 4.17 `lib/peer-discovery.js`) on a `DHTNode`: for each joined topic it
/// announces our key under the topic (as a server, with the relay addresses our HyperDHT server is reachable through)
/// and looks the topic up (as a client), handing out the keys it finds, and keeps doing both: every 10 minutes plus up
/// to 2 minutes of jitter, as the reference. One difference, on purpose: the first lookups after joining come soon
/// (1 s, 2 s, 4 s, 8 s after one another), and so does the next while a lookup finds nobody else (1 s, doubling up to
/// the refresh interval), so two peers that join at the same moment meet within seconds instead of missing each
/// other for ten minutes (the reference's behaviour, ../shared/interop/README.md) — also when each finds a third
/// member at once, whose presence would otherwise stop the quick retries.
///
/// `DHTSwarm` runs it for the gateway's rooms. On the node's event loop.
public final class DHTTopicDiscovery: @unchecked Sendable {
    /// A peer found under a topic: its public key (what to connect to) and the relays its announce named.
    public struct Found: Sendable, Hashable {
        public var topic: [UInt8]
        public var publicKey: [UInt8]
        public var relayAddresses: [IPv4Endpoint]
    }

    public struct Timing: Sendable {
        /// Hyperswarm's `REFRESH_INTERVAL` and `RANDOM_JITTER`.
        public var refresh = TimeAmount.minutes(10)
        public var jitter = TimeAmount.minutes(2)
        /// The first retry after a lookup that found nobody else; doubling up to `refresh`.
        public var firstRetry = TimeAmount.seconds(1)
        /// Lookups after joining that are followed soon by another whatever they found (at `firstRetry`, doubling).
        public var followUpLookups = 4
        public init() {}
    }

    public let node: DHTNode
    public let keyPair: Ed25519.KeyPair
    public let timing: Timing
    /// The peers each lookup found (other than us), every time it found them: the consumer keeps one connection per
    /// key and redials from here when one ends (the newest 4,096 are kept while it lags).
    public let found: AsyncStream<Found>
    /// The relay addresses to announce with (our HyperDHT server's relays, as hyperswarm announces them).
    public var relayAddresses: () -> [IPv4Endpoint] = { [] }

    private let continuation: AsyncStream<Found>.Continuation
    private var topics: [[UInt8]: Topic] = [:]
    private var closed = false

    private final class Topic {
        let server: Bool
        let client: Bool
        var timer: Scheduled<Void>?
        var refreshing: EventLoopFuture<Void>?
        /// Lookups in a row that found nobody else (the retry doubles with each).
        var emptyLookups = 0
        /// Lookups done since joining.
        var lookups = 0
        init(server: Bool, client: Bool) {
            self.server = server
            self.client = client
        }
    }

    public init(node: DHTNode, keyPair: Ed25519.KeyPair, timing: Timing = Timing()) {
        self.node = node
        self.keyPair = keyPair
        self.timing = timing
        (found, continuation) = AsyncStream<Found>.makeStream(bufferingPolicy: .bufferingNewest(4096))
    }

    /// Joins `topic`: announces under it when `server`, looks it up when `client`. The future completes when the
    /// first announce and lookup are done (`flushed`), whatever they found.
    public func join(_ topic: [UInt8], server: Bool = true, client: Bool = true) -> EventLoopFuture<Void> {
        node.eventLoop.preconditionInEventLoop()
        guard !closed else { return node.eventLoop.makeSucceededVoidFuture() }
        if let current = topics[topic] {
            return current.refreshing ?? node.eventLoop.makeSucceededVoidFuture()
        }
        let state = Topic(server: server, client: client)
        topics[topic] = state
        return refresh(topic, state)
    }

    /// Leaves `topic`: no more refreshes, and the announce is withdrawn (connections already made stay).
    public func leave(_ topic: [UInt8]) -> EventLoopFuture<Void> {
        node.eventLoop.preconditionInEventLoop()
        guard let state = topics.removeValue(forKey: topic) else { return node.eventLoop.makeSucceededVoidFuture() }
        state.timer?.cancel()
        guard state.server else { return node.eventLoop.makeSucceededVoidFuture() }
        return node.unannounce(topic, keyPair: keyPair).map { _ in }.recover { _ in }
    }

    /// Waits until every joined topic's current announce and lookup are done.
    public func flush() -> EventLoopFuture<Void> {
        node.eventLoop.preconditionInEventLoop()
        let pending = topics.values.compactMap(\.refreshing)
        return EventLoopFuture.andAllComplete(pending, on: node.eventLoop)
    }

    /// Leaves every topic and ends `found`.
    public func close() -> EventLoopFuture<Void> {
        node.eventLoop.preconditionInEventLoop()
        closed = true
        let leaving = topics.keys.map { leave($0) }
        continuation.finish()
        return EventLoopFuture.andAllComplete(leaving, on: node.eventLoop)
    }

    public var joinedTopics: Int { topics.count }

    public func isJoined(_ topic: [UInt8]) -> Bool { topics[topic] != nil }

    // MARK: - Refreshing

    private func refresh(_ topic: [UInt8], _ state: Topic) -> EventLoopFuture<Void> {
        let loop = node.eventLoop
        let announcing: EventLoopFuture<Void> = state.server
            ? node.announce(topic, keyPair: keyPair, relayAddresses: relayAddresses()).map { _ in }.recover { _ in }
            : loop.makeSucceededVoidFuture()
        let looking: EventLoopFuture<Int> = state.client
            ? node.lookup(topic).map { [weak self] peers in self?.report(peers, under: topic, state) ?? 0 }.recover { _ in 0 }
            : loop.makeSucceededFuture(1)
        let done = announcing.and(looking).map { [weak self] _, others in
            guard let self, topics[topic] === state else { return }
            state.refreshing = nil
            state.emptyLookups = others == 0 ? state.emptyLookups + 1 : 0
            state.lookups += 1
            schedule(topic, state)
        }
        state.refreshing = done
        return done
    }

    /// The peers a lookup found, other than us, go out on `found`. Returns how many others there are.
    private func report(_ peers: [HyperDHTPeer], under topic: [UInt8], _ state: Topic) -> Int {
        let others = peers.filter { $0.publicKey != keyPair.publicKey }
        for peer in others {
            continuation.yield(Found(topic: topic, publicKey: peer.publicKey, relayAddresses: peer.relayAddresses))
        }
        return others.count
    }

    /// When a topic is refreshed next: soon after each of the first `followUpLookups` lookups since joining, and after
    /// `emptyLookups` lookups in a row that found nobody else (the first retry, doubling, never later than the refresh
    /// interval); otherwise the refresh interval plus a random part of the jitter (`jitterFraction` in 0...1).
    public static func nextRefresh(
        afterLookups lookups: Int = .max, emptyLookups: Int, client: Bool, timing: Timing, jitterFraction: Double
    ) -> TimeAmount {
        let soon = emptyLookups > 0 ? emptyLookups : lookups <= timing.followUpLookups ? lookups : 0
        if client, soon > 0 {
            let exponent = min(soon - 1, 20)
            return min(.nanoseconds(timing.firstRetry.nanoseconds << exponent), timing.refresh)
        }
        return timing.refresh + .nanoseconds(Int64(Double(timing.jitter.nanoseconds) * min(max(jitterFraction, 0), 1)))
    }

    private func schedule(_ topic: [UInt8], _ state: Topic) {
        guard !closed else { return }
        let delay = Self.nextRefresh(
            afterLookups: state.lookups, emptyLookups: state.emptyLookups, client: state.client, timing: timing,
            jitterFraction: Double.random(in: 0...1))
        state.timer = node.eventLoop.scheduleTask(in: delay) { [weak self] in
            guard let self, topics[topic] === state else { return }
            _ = refresh(topic, state)
        }
    }
}
