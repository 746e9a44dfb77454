import Logging
import ServiceLifecycle
import Synchronization

/// Keeps this node's peer connections: dials the candidates discovery finds (again and again with back-off while
/// they are away), takes the connections the listeners accept, keeps one per remote public key
/// (`PeerConnectionTable`), at most `maximumPeers`, refuses banned peers, and hands every kept connection to its
/// owner (the gateway).
///
/// Candidates at an address (static peers) are dialled for as long as the node runs. Candidates known by key alone
/// (found on the DHT) are dialled through `keyDialler`, and given up after `keyAttempts` failures in a row: a peer
/// gone for good is forgotten until a lookup finds it again.
///
/// A service: `run()` owns every task it starts (one dialler per candidate, one watcher per connection) and,
/// on graceful shutdown, stops dialling and ends every connection cleanly within `closeDeadline`.
public actor PeerConnectionManager: Service {
    public typealias ConnectionID = PeerConnectionTable.ConnectionID

    /// What became of a connection made on request (`connect(to:)`).
    public enum ConnectOutcome: Hashable, Sendable {
        case connected
        /// The peer was connected already (the existing connection stays).
        case alreadyConnected
        case refused(PeerConnectionTable.Refusal)
    }

    private enum Job: Sendable {
        case candidate(PeerCandidate)
        /// A connection finished its handshake.
        case established(any PeerConnection, reply: CheckedContinuation<PeerConnectionTable.Decision, Never>?)
        case closed(ConnectionID, remoteKey: [UInt8])
        case ban([UInt8], reason: String)
        case diallerEnded(PeerCandidate.Target)

        /// The job cannot be handled any more (the manager stopped): answer it.
        func cancelled() {
            if case .established(let connection, let reply) = self {
                connection.disconnect()
                reply?.resume(returning: .refuse(.duplicate(of: 0)))
            }
        }
    }

    public let transport: any PeerTransport
    private let keyDialler: (any PeerKeyDialler)?
    /// Dials in a row that may fail before a candidate found by key is given up.
    private let keyAttempts: Int
    private let discovery: any PeerDiscovery
    private let retry: RetrySchedule
    private let banDuration: Duration
    /// How long a shutdown waits for peers to answer our end before closing their connections anyway.
    private let closeDeadline: Duration
    /// A dialled connection that ends sooner than this counts as a failure for the back-off (the peer refuses us, or
    /// drops us at once), so such a peer is not redialled every second.
    private let healthyLifetime: Duration
    private let logger: Logger
    private let onConnection: @Sendable (any PeerConnection) async -> Void
    private var table: PeerConnectionTable
    private var live: [ConnectionID: any PeerConnection] = [:]
    private var nextID: ConnectionID = 1
    /// Targets with a dialler: a candidate found twice is dialled by one loop (two loops dialling the same peer
    /// at once would race their same-direction connections).
    private var dialling = Set<PeerCandidate.Target>()
    private let mailbox = Mailbox<Job>()

    /// - Parameters:
    ///   - localKey: our public key (a connection to it is refused).
    ///   - banDuration: how long a peer dropped for misbehaviour stays refused.
    ///   - onConnection: gets every kept connection, once.
    public init(
        localKey: [UInt8], transport: any PeerTransport, keyDialler: (any PeerKeyDialler)? = nil, discovery: any PeerDiscovery,
        retry: RetrySchedule = RetrySchedule(), keyAttempts: Int = 5, maximumPeers: Int = 64,
        banDuration: Duration = .seconds(600), closeDeadline: Duration = .seconds(3), healthyLifetime: Duration = .seconds(10),
        logger: Logger = Logger(label: "pearircd.peers"),
        onConnection: @escaping @Sendable (any PeerConnection) async -> Void
    ) {
        self.transport = transport
        self.keyDialler = keyDialler
        self.keyAttempts = keyAttempts
        self.discovery = discovery
        self.retry = retry
        self.banDuration = banDuration
        self.closeDeadline = closeDeadline
        self.healthyLifetime = healthyLifetime
        self.logger = logger
        self.onConnection = onConnection
        table = PeerConnectionTable(localKey: localKey, maximumPeers: maximumPeers)
    }

    public func run() async throws {
        let mailbox = self.mailbox
        let candidates = discovery.candidates
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [weak self] in
                    for await candidate in candidates { self?.post(.candidate(candidate)) }
                }
                while let job = await mailbox.next() {
                    await process(job, group: &group)
                }
                // Stop dialling (a dial in progress is cancelled), then end every connection cleanly before the
                // watchers are waited for.
                group.cancelAll()
                await Self.end(Array(live.values), within: closeDeadline)
            }
        } onGracefulShutdown: {
            mailbox.finish()
        }
        mailbox.finish()
        for job in mailbox.drain() { job.cancelled() }
        live.removeAll()
    }

    /// Ends connections cleanly (what was sent is delivered, the peer sees an end) and waits for them to close; any
    /// still open after `deadline` (a peer that does not answer our end) is closed at once.
    static func end(_ connections: [any PeerConnection], within deadline: Duration) async {
        guard !connections.isEmpty else { return }
        for connection in connections { connection.end() }
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for connection in connections { await connection.waitUntilClosed() }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return false
            }
            if await group.next() == false {
                for connection in connections { connection.disconnect() }
            }
            group.cancelAll()
        }
    }

    /// Stops `run()` as a graceful shutdown would.
    public nonisolated func shutdown() {
        mailbox.finish()
    }

    private nonisolated func post(_ job: Job) {
        if !mailbox.post(job) { job.cancelled() }
    }

    // MARK: - Inputs

    /// A connection the listener accepted (handshake done).
    public nonisolated func accepted(_ connection: any PeerConnection) {
        post(.established(connection, reply: nil))
    }

    /// Dials `address` once (`/msg PearServ connect`) and keeps the connection as the table decides: a peer already
    /// connected by its own dial keeps the connection the rule picks (`.alreadyConnected` when it is the old one); one
    /// we had dialled before is reconnected (the newer connection replaces the older, on both sides). Throws what
    /// dialling threw.
    public func connect(to address: PeerAddress) async throws -> ConnectOutcome {
        let connection = try await transport.connect(to: address, expectedRemoteKey: nil)
        let decision = await withCheckedContinuation { reply in
            post(.established(connection, reply: reply))
        }
        switch decision {
        case .keep, .replace: return .connected
        case .refuse(.duplicate): return .alreadyConnected
        case .refuse(let refusal): return .refused(refusal)
        }
    }

    /// Refuses `key` for the ban duration and ends its connection (the gateway calls this for a misbehaving peer).
    public nonisolated func ban(_ key: [UInt8], reason: String) {
        post(.ban(key, reason: reason))
    }

    /// How many connections are kept right now.
    public var connectionCount: Int { live.count }

    /// The kept connections.
    public var connections: [any PeerConnection] { live.keys.sorted().compactMap { live[$0] } }

    /// How many candidates are being dialled (kept connected).
    public var diallerCount: Int { dialling.count }

    /// How many diallers ended (their address was this node, or a peer found by key stayed unreachable).
    public private(set) var finishedDiallers = 0

    // MARK: - Jobs

    private func process(_ job: Job, group: inout DiscardingTaskGroup) async {
        switch job {
        case .candidate(let candidate):
            if candidate.address == nil {
                // Found by key: only with a way to dial keys, never ourselves, and not beyond the caps (a lookup finds
                // it again later). The diallers' own cap bounds what a flood of announced keys that lead nowhere
                // can cost: each would be a loop dialling through the DHT.
                guard keyDialler != nil, let key = candidate.publicKey, key != table.localKey,
                    table.isConnected(key) || table.hasRoom,
                    dialling.count(where: { if case .publicKey = $0 { true } else { false } }) < table.maximumPeers
                        || dialling.contains(candidate.target)
                else { return }
            }
            guard dialling.insert(candidate.target).inserted else { return }
            group.addTask { [weak self] in
                await self?.dial(candidate)
                self?.post(.diallerEnded(candidate.target))
            }
        case .diallerEnded(let target):
            dialling.remove(target)
            finishedDiallers += 1
        case .established(let connection, let reply):
            let id = nextID
            nextID += 1
            // Both sides must keep the same connection without talking about it: only the table's rule decides.
            let decision = table.established(
                .init(id: id, remoteKey: connection.remotePublicKey, isInitiator: connection.isInitiator), now: .now)
            reply?.resume(returning: decision)
            switch decision {
            case .refuse(let refusal):
                logger.debug("refusing peer connection", metadata: ["peer": "\(connection.label)", "why": "\(refusal)"])
                // A duplicate is a friend's: ended cleanly. A banned peer gets no courtesy (it may not read).
                if case .duplicate = refusal { connection.end() } else { connection.disconnect() }
                return
            case .replace(let old):
                logger.debug("replacing peer connection", metadata: ["peer": "\(connection.label)"])
                live.removeValue(forKey: old)?.end()
            case .keep:
                break
            }
            live[id] = connection
            let key = connection.remotePublicKey
            group.addTask { [weak self] in
                await connection.waitUntilClosed()
                self?.post(.closed(id, remoteKey: key))
            }
            await onConnection(connection)
        case .closed(let id, let key):
            live[id] = nil
            table.closed(id, remoteKey: key)
        case .ban(let key, let reason):
            logger.warning("banning peer", metadata: ["key": "\(Self.shortKey(key))", "reason": "\(reason)", "for": "\(banDuration)"])
            if let id = table.ban(key, until: .now + banDuration) { live[id]?.disconnect() }
        }
    }

    /// Keeps a candidate connected: dials, waits while its connection (or another one to the same peer) is up, and
    /// dials again after a back-off that grows with every failure: a dial that fails, a connection refused or one
    /// that ends at once. Stops for good when the address turns out to be this node, and, for a candidate known by
    /// key alone, after `keyAttempts` failures in a row. Ends when `run()`'s group is cancelled.
    nonisolated func dial(_ candidate: PeerCandidate) async {
        var failures = 0
        var knownKey = candidate.publicKey
        let byKey = candidate.address == nil
        while !Task.isCancelled {
            if byKey, failures >= keyAttempts {
                logger.debug("peer unreachable; waiting until it is found again", metadata: ["peer": "\(candidate)"])
                return
            }
            if byKey, let key = candidate.publicKey, let keyDialler, !(await keyDialler.isWanted(key)) {
                // Found only under topics we have left: not redialled (a lookup of a topic we join finds it again).
                return
            }
            if let key = knownKey, let wait = await holdOff(key) {
                // Connected through another connection, or banned: look again later.
                try? await Task.sleep(for: wait)
                continue
            }
            do {
                let connection = try await connect(candidate)
                knownKey = connection.remotePublicKey
                let decision = await withCheckedContinuation { reply in
                    post(.established(connection, reply: reply))
                }
                switch decision {
                case .refuse(.ownKey):
                    logger.info("a peer address points at this node; not dialling it again", metadata: ["peer": "\(candidate)"])
                    return
                case .refuse(.duplicate), .refuse(.banned):
                    // `holdOff` waits while the other connection is up, or until the ban ends.
                    continue
                case .refuse(.full):
                    failures += 1
                case .keep, .replace:
                    logger.info("connected to peer", metadata: ["peer": "\(candidate)", "via": "\(connection.label)"])
                    let start = ContinuousClock.now
                    await connection.waitUntilClosed()
                    failures = ContinuousClock.now - start < healthyLifetime ? failures + 1 : 0
                }
            } catch {
                failures += 1
                logger.debug("peer not reachable", metadata: ["peer": "\(candidate)", "error": "\(error)"])
            }
            if byKey, failures >= keyAttempts { continue }
            try? await Task.sleep(for: retry.delay(afterFailures: max(0, failures - 1), random: Double.random(in: 0..<1)))
        }
    }

    private nonisolated func connect(_ candidate: PeerCandidate) async throws -> any PeerConnection {
        if let address = candidate.address {
            return try await transport.connect(to: address, expectedRemoteKey: candidate.publicKey)
        }
        guard let keyDialler, let key = candidate.publicKey else { throw CancellationError() }
        return try await keyDialler.connect(toPublicKey: key)
    }

    /// How long to wait before dialling `key` again, if not now: while a connection to it is kept (until it closes)
    /// or while it is banned.
    private func holdOff(_ key: [UInt8]) async -> Duration? {
        if let until = table.banExpiry(key, now: .now) { return until - .now }
        if let id = table.connection(to: key), let connection = live[id] {
            await connection.waitUntilClosed()
            return .zero
        }
        return nil
    }

    static func shortKey(_ key: [UInt8]) -> String {
        key.prefix(6).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
