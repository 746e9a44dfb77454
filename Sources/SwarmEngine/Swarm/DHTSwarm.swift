import CompactEncoding
import Logging
import NIOCore
import Sodium
import Synchronization

/// A Hyperswarm on our own HyperDHT node: the node, a HyperDHT server for our identity key (peers connect to us by
/// key, punching through NATs or meeting through a relay), topic discovery (`DHTTopicDiscovery`: announce and look
/// up each joined topic, quickly again while nobody is found) and connect-by-key. As a `PeerDiscovery` it hands out
/// the keys found under our topics; as a `PeerKeyDialler` it dials them. `PeerConnectionManager` keeps one
/// connection per key, whichever side dialled (Hyperswarm's rule).
///
/// Lifecycle: `bind()` (the socket, so its port can be printed), `start(onConnection:)` (bootstrap and listen, in
/// the background, retried while nobody answers), `close()`. Topics joined before the node has bootstrapped and announced our
/// key are joined once it has (a peer that found us earlier could not have connected).
public final class DHTSwarm: PeerDiscovery, PeerKeyDialler, @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port.
        public var port: Int
        public var bootstrap: [IPv4Endpoint]
        /// Blind relays (public keys) for peers we cannot punch through to, and to offer those who cannot reach us.
        public var relays: [[UInt8]] = []
        public var timing = DHTTopicDiscovery.Timing()
        /// The first wait before bootstrapping or listening again after nobody answered (doubling up to a minute).
        public var retry: TimeAmount = .seconds(2)
        /// How often a sought key (`seek(publicKey:)`) is handed out again to be dialled while it is still sought (the
        /// connection manager gives a key up after a few failed dials in a row).
        public var seekInterval: TimeAmount = .seconds(60)
        /// A blind relay to serve for our peers (under its own key pair) once the node finds it is reachable; nil
        /// serves none (`--no-relaying`, or a node behind a NAT: a relay must be reachable by both sides).
        public var relayService: RelayService?

        public struct RelayService: Sendable {
            public var keyPair: Ed25519.KeyPair
            public var limits: BlindRelayServer.Limits
            public init(keyPair: Ed25519.KeyPair, limits: BlindRelayServer.Limits) {
                self.keyPair = keyPair
                self.limits = limits
            }
        }

        public init(host: String = "0.0.0.0", port: Int = 0, bootstrap: [IPv4Endpoint]) {
            self.host = host
            self.port = port
            self.bootstrap = bootstrap
        }
    }

    public let node: DHTNode
    public let keyPair: Ed25519.KeyPair
    public let configuration: Configuration
    public let candidates: AsyncStream<PeerCandidate>
    private let discovery: DHTTopicDiscovery
    private let logger: Logger
    private let candidateInput: AsyncStream<PeerCandidate>.Continuation
    private let pump: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let hooks = Mutex(Hooks())

    /// Set by the owner before `start`.
    public struct Hooks: Sendable {
        /// Our relay is up under this key (to offer it to peers).
        public var relayStarted: (@Sendable ([UInt8]) -> Void)?
        /// Relays our peers offer, tried (with the configured ones) when punching to a peer fails.
        public var offeredRelays: (@Sendable () async -> [[UInt8]])?
        public init() {}
    }

    public func setHooks(_ body: (inout Hooks) -> Void) { hooks.withLock { body(&$0) } }
    /// Succeeds once the node has bootstrapped and announced our key (or the swarm closed).
    private let ready: EventLoopPromise<Void>

    // On the node's event loop:
    private var server: HyperDHTServer?
    private var relayServer: BlindRelayServer?
    /// Bootstrapped and our key announced (or being announced again): topics are joined at once.
    private var bootstrapped = false
    private var closed = false
    /// Topics joined before the node was ready.
    private var waiting: [[UInt8]] = []
    /// Topics to look up (not announce) once bootstrapped (`lookUp`).
    private var waitingLookUps: [[UInt8]] = []
    /// The joined topics each key found was found under (at most `maximumTrackedKeys` keys; the newest are kept).
    private var topicsOfKey: [[UInt8]: Set<[UInt8]>] = [:]
    private static let maximumTrackedKeys = 4096
    private var retryTimer: Scheduled<Void>?
    /// Keys dialled though found under no topic (`seek`), and the timer that hands them out again.
    private var sought = Set<[UInt8]>()
    private var seekTimer: RepeatedTask?

    public init(keyPair: Ed25519.KeyPair, configuration: Configuration, eventLoop: any EventLoop, logger: Logger) {
        self.keyPair = keyPair
        self.configuration = configuration
        self.logger = logger
        node = DHTNode(
            udx: UDXNode(eventLoop: eventLoop),
            configuration: .init(host: configuration.host, port: configuration.port, bootstrap: configuration.bootstrap))
        discovery = DHTTopicDiscovery(node: node, keyPair: keyPair, timing: configuration.timing)
        ready = eventLoop.makePromise(of: Void.self)
        (candidates, candidateInput) = AsyncStream<PeerCandidate>.makeStream(bufferingPolicy: .bufferingNewest(4096))
    }

    private var loop: any EventLoop { node.eventLoop }

    /// Binds the node's sockets; returns the address of the one other nodes talk to.
    public func bind() async throws -> IPv4Endpoint {
        try await loop.flatSubmit { [node] in node.start().flatMapThrowing { try node.address.orThrow(DHTNode.Failure.notStarted) } }.get()
    }

    /// Bootstraps, then listens for connections by our key (each goes to `onConnection`), then joins the topics joined
    /// so far. Returns at once; what fails (nobody answers) is logged and tried again with back-off.
    public func start(onConnection: @escaping @Sendable (any PeerConnection) -> Void) {
        let found = discovery.found, input = candidateInput
        let loop = self.loop
        pump.withLock {
            $0 = Task { [weak self] in
                for await peer in found {
                    loop.execute { self?.remember(peer.publicKey, under: peer.topic) }
                    input.yield(PeerCandidate(publicKey: peer.publicKey))
                }
                input.finish()
            }
        }
        loop.execute { [self] in bootstrap(attempt: 0, onConnection: onConnection) }
    }

    private func remember(_ key: [UInt8], under topic: [UInt8]) {
        guard discovery.isJoined(topic) else { return }
        if topicsOfKey[key] == nil, topicsOfKey.count >= Self.maximumTrackedKeys, let any = topicsOfKey.keys.first {
            topicsOfKey[any] = nil
        }
        topicsOfKey[key, default: []].insert(topic)
    }

    private func delay(_ attempt: Int) -> TimeAmount {
        min(.nanoseconds(configuration.retry.nanoseconds << min(attempt, 10)), .seconds(60))
    }

    private func bootstrap(attempt: Int, onConnection: @escaping @Sendable (any PeerConnection) -> Void) {
        guard !closed else { return }
        node.bootstrap().whenComplete { [self] _ in
            guard !closed else { return }
            guard node.table.count > 0 else {
                logger.warning("DHT: no bootstrap node answered; trying again", metadata: ["bootstrap": "\(configuration.bootstrap)"])
                retryTimer = loop.scheduleTask(in: delay(attempt)) { [self] in bootstrap(attempt: attempt + 1, onConnection: onConnection) }
                return
            }
            logger.info("DHT bootstrapped", metadata: ["nodes": "\(node.table.count)", "firewalled": "\(node.isFirewalled)"])
            listen(attempt: 0, onConnection: onConnection)
        }
    }

    /// Our key's server has been announced (or its first announce failed and is being retried): announcing topics
    /// now sends peers to a key they can connect to.
    private func becomeReady() {
        guard !bootstrapped, !closed else { return }
        bootstrapped = true
        ready.succeed()
        for topic in waiting { _ = discovery.join(topic) }
        waiting.removeAll()
        for topic in waitingLookUps { _ = discovery.join(topic, server: false, client: true) }
        waitingLookUps.removeAll()
        offerSought()
    }

    /// Hands every sought key to the connection manager (which keeps one dialler per key, so a key being dialled or
    /// connected is not dialled twice).
    private func offerSought() {
        guard bootstrapped, !closed else { return }
        for key in sought { candidateInput.yield(PeerCandidate(publicKey: key)) }
        armSeekTimer()
    }

    private func listen(attempt: Int, onConnection: @escaping @Sendable (any PeerConnection) -> Void) {
        guard !closed else { return }
        node.listen(keyPair: keyPair, relayThrough: configuration.relays, logger: logger) { connection in
            onConnection(DHTPeerConnection(connection))
        }.whenComplete { [self] result in
            switch result {
            case .success(let listening):
                guard !closed else {
                    _ = listening.close()
                    return
                }
                server = listening
                discovery.relayAddresses = { [weak listening] in listening?.relays.map(\.relayAddress) ?? [] }
                becomeReady()
                serveRelay()
            case .failure(let error):
                guard !closed else { return }
                logger.warning("DHT: could not announce our key; trying again", metadata: ["error": "\(error)"])
                becomeReady()
                retryTimer = loop.scheduleTask(in: delay(attempt)) { [self] in listen(attempt: attempt + 1, onConnection: onConnection) }
            }
        }
    }

    /// Starts the blind relay when one is configured and the node is reachable (not firewalled).
    private func serveRelay() {
        guard let service = configuration.relayService, relayServer == nil, !closed else { return }
        guard !node.isFirewalled else {
            logger.info("not relaying for peers: this node is not reachable from outside")
            return
        }
        BlindRelayServer.start(on: node, keyPair: service.keyPair, limits: service.limits, logger: logger).whenComplete { [self] result in
            switch result {
            case .success(let relay):
                guard !closed else {
                    _ = relay.close()
                    return
                }
                relayServer = relay
                logger.info("relaying for peers", metadata: ["key": "\(PeerConnectionManager.shortKey(service.keyPair.publicKey))"])
                hooks.withLock { $0.relayStarted }?(service.keyPair.publicKey)
            case .failure(let error):
                logger.warning("could not start relaying for peers", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The relay key we serve under, once serving.
    public var servedRelayKey: [UInt8]? {
        get async { try? await loop.submit { [self] in relayServer?.keyPair.publicKey }.get() }
    }

    // MARK: - PeerDiscovery

    public func join(topic: [UInt8]) async {
        loop.execute { [self] in
            guard !closed else { return }
            if bootstrapped {
                _ = discovery.join(topic)
            } else if !waiting.contains(topic) {
                waiting.append(topic)
            }
        }
    }

    /// Looks `topic` up (now, and again as joined topics are refreshed) without announcing ourselves under it, until
    /// told to stop: a person we must reach, found under their own topic.
    public func lookUp(topic: [UInt8], _ looking: Bool) async {
        if !looking { return await leave(topic: topic) }
        loop.execute { [self] in
            guard !closed else { return }
            if bootstrapped {
                _ = discovery.join(topic, server: false, client: true)
            } else if !waitingLookUps.contains(topic) {
                waitingLookUps.append(topic)
            }
        }
    }

    public func leave(topic: [UInt8]) async {
        loop.execute { [self] in
            waiting.removeAll { $0 == topic }
            waitingLookUps.removeAll { $0 == topic }
            _ = discovery.leave(topic)
            for key in Array(topicsOfKey.keys) {
                topicsOfKey[key]?.remove(topic)
                if topicsOfKey[key]?.isEmpty == true { topicsOfKey[key] = nil }
            }
        }
    }

    /// Waits until every joined topic's current announce and lookup are done (and, before that, the bootstrap).
    public func flush() async {
        try? await ready.futureResult.get()
        _ = try? await loop.flatSubmit { [self] in discovery.flush() }.get()
    }

    // MARK: - PeerKeyDialler

    public func connect(toPublicKey key: [UInt8]) async throws -> any PeerConnection {
        // The relays the user gave (`--relay`), else those our peers offer (never our own: we would be relaying
        // ourselves); the connect picks one of them at random when punching fails.
        let own = configuration.relayService?.keyPair.publicKey
        let offered = configuration.relays.isEmpty ? await hooks.withLock { $0.offeredRelays }?() ?? [] : []
        let relays = (configuration.relays.isEmpty ? offered : configuration.relays).filter { $0 != own }
        // A connect can take tens of seconds (punching, then a relay): a cancelled dial (shutdown) returns at once,
        // and a connection that still completes afterwards is closed.
        let outcome = loop.makePromise(of: HyperDHTConnection.self)
        // Which of the connect and the cancellation came first (both run on the loop; the flag is read from there).
        let settled = Settled()
        loop.execute { [self] in
            node.connect(to: key, keyPair: keyPair, relayThrough: relays, logger: logger).whenComplete { result in
                guard settled.claim() else {
                    if case .success(let late) = result { late.connection.disconnect() }
                    return
                }
                outcome.completeWith(result)
            }
        }
        let connection = try await withTaskCancellationHandler {
            try await outcome.futureResult.get()
        } onCancel: { [loop] in
            loop.execute {
                if settled.claim() { outcome.fail(CancellationError()) }
            }
        }
        return DHTPeerConnection(connection)
    }

    /// Whether `key` was found under a topic we are still in, or is sought (a key found only under topics we left is
    /// not redialled when its connection ends, as Hyperswarm requeues only peers of joined topics).
    public func isWanted(_ key: [UInt8]) async -> Bool {
        (try? await loop.submit { [self] in sought.contains(key) || !(topicsOfKey[key] ?? []).isEmpty }.get()) ?? false
    }

    /// Dials `key` (now, once bootstrapped, and again every `seekInterval`) until told to stop: a peer we must reach
    /// that announces no topic we know (the other side of a direct conversation who has not seen it yet).
    public func seek(publicKey key: [UInt8], _ seeking: Bool) async {
        loop.execute { [self] in
            guard key.count == 32, key != keyPair.publicKey, !closed else { return }
            if seeking {
                guard sought.insert(key).inserted else { return }
                if bootstrapped { candidateInput.yield(PeerCandidate(publicKey: key)) }
            } else {
                sought.remove(key)
            }
            if bootstrapped { armSeekTimer() }
        }
    }

    private func armSeekTimer() {
        if sought.isEmpty {
            seekTimer?.cancel()
            seekTimer = nil
        } else if seekTimer == nil {
            let interval = configuration.seekInterval
            seekTimer = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in self?.offerSought() }
        }
    }

    // MARK: - Closing

    /// Closes the server and the node (announces withdrawn as far as the network lets in a moment), and ends
    /// `candidates`.
    public func close() async {
        let closing: EventLoopFuture<Void>? = try? await loop.submit { [self] () -> EventLoopFuture<Void> in
            closed = true
            ready.succeed()
            retryTimer?.cancel()
            seekTimer?.cancel()
            let leaving = discovery.close()
            _ = relayServer?.close()
            let stopping = server?.close() ?? loop.makeSucceededVoidFuture()
            return leaving.and(stopping).map { _ in }
        }.get()
        // An unannounce that gets no answer must not hold the shutdown.
        _ = try? await closing?.withTimeout(.seconds(2), on: loop).get()
        _ = try? await loop.flatSubmit { [node] in
            node.stop()
            return node.udx.close()
        }.get()
        pump.withLock { $0?.cancel() }
        candidateInput.finish()
    }
}

/// Set once, by whichever comes first.
private final class Settled: Sendable {
    private let done = Mutex(false)
    /// True for the first caller only.
    func claim() -> Bool {
        done.withLock { done in
            defer { done = true }
            return !done
        }
    }
}

extension Optional {
    fileprivate func orThrow(_ error: @autoclosure () -> any Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}

extension EventLoopFuture where Value == Void {
    /// Completes when `self` does, or after `timeout` (successfully), whichever is first.
    fileprivate func withTimeout(_ timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let timer = loop.scheduleTask(in: timeout) { promise.succeed() }
        whenComplete { _ in
            timer.cancel()
            promise.succeed()
        }
        return promise.futureResult
    }
}
