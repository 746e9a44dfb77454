/// Runs a `ReplicationSession` against a `SignedLog`: the thin shell between the pure state machine, the log and a
/// transport. The transport hands in whatever arrived (ideally everything that arrived in one read, so data is
/// verified and stored in one transaction) and gets back what to send.
///
/// It runs on its log's executor (the store's storage thread): every call it makes to the log (state reads, proofs,
/// verified writes) is then a plain call on the same thread, not a thread switch and back.
public actor ReplicationDriver {
    public nonisolated let log: SignedLog

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        log.unownedExecutor
    }
    private var session: ReplicationSession
    private let transport: @Sendable ([ReplicationMessage]) -> Void
    /// Why the channel closed, once it has.
    public private(set) var closeReason: ReplicationSessionError?
    private var following: Task<Void, Never>?
    /// Messages that arrived before the session was opened, in order; nil once it is. The peer's open always comes
    /// first on the wire, but `remoteOpened` suspends (subscribing to the log, reading its state), and the transport
    /// may hand over the peer's next messages meanwhile: they wait here instead of reading as a protocol violation.
    private var heldUntilOpen: [ReplicationMessage]? = []
    /// Most messages held before the open is processed; more is a peer (or transport) out of step.
    public static let maximumHeldMessages = 4096
    /// Most bytes held before the open is processed (a message may carry a block of up to a frame's size).
    public static let maximumHeldBytes = 8 * 1024 * 1024
    private var heldBytes = 0

    /// The blocks this replica lacks that the peer has, as last added to `ReplicationMetrics.blocksBehind`.
    private var reportedLag = 0
    private var stopped = false

    private let onStorageFault: @Sendable (HyperLogError) -> Void
    /// Blocks whose damage was reported already (a peer asking again is not news).
    private var reportedFaults = Set<UInt64>()

    /// What we send in our channel open.
    public nonisolated let handshake: ReplicationHandshake

    /// - Parameters:
    ///   - handshakeHash: the encrypted connection's handshake hash; `isInitiator` our role on it.
    ///   - transport: called with the messages to send, in order.
    ///   - onStorageFault: told (once per block) when a block the peer asked for failed its check in our store:
    ///     the peer gets "not available", and the owner must hear that the store is damaged.
    public init(
        log: SignedLog, handshakeHash: [UInt8], isInitiator: Bool,
        configuration: ReplicationSession.Configuration = .init(),
        onStorageFault: @escaping @Sendable (HyperLogError) -> Void = { _ in },
        transport: @escaping @Sendable ([ReplicationMessage]) -> Void
    ) async throws {
        self.log = log
        self.transport = transport
        self.onStorageFault = onStorageFault
        let session = try ReplicationSession(
            key: log.key, handshakeHash: handshakeHash, isInitiator: isInitiator,
            local: await Self.localState(of: log), configuration: configuration)
        self.session = session
        handshake = session.localHandshake
    }

    static func localState(of log: SignedLog) async -> ReplicationSession.LocalState {
        await log.replicationState
    }

    /// The remote's channel open arrived. Starts following local changes of the log. Returns why the channel closed,
    /// if processing the open (or messages held until it) closed it, so the caller learns it without another hop.
    @discardableResult
    public func remoteOpened(_ remote: ReplicationHandshake) async -> ReplicationSessionError? {
        // Subscribe before reading the state, and read it fresh: the log may have moved since this driver was
        // made, and a change between the two would otherwise never be announced.
        if following == nil, closeReason == nil {
            let changes = await log.changes()
            // Runs on this driver's executor (no hop per change); `stop()` cancels it, which releases the driver.
            following = Task(executorPreference: log.executor) { [weak self] in await self?.follow(changes) }
        }
        _ = session.localChanged(await Self.localState(of: log))
        await perform(session.opened(remote: remote))
        // Whatever arrives while the held messages are processed goes straight to the session, after them.
        if let held = heldUntilOpen {
            heldUntilOpen = nil
            if !held.isEmpty { await receive(held) }
        }
        return closeReason
    }

    /// Messages that arrived, in order. Returns why the channel closed, if it has (the peer broke the protocol or
    /// sent data that failed verification), so the caller can act in the same hop.
    @discardableResult
    public func receive(_ messages: [ReplicationMessage]) async -> ReplicationSessionError? {
        guard closeReason == nil else { return closeReason }
        if let heldCount = heldUntilOpen?.count {
            heldBytes += messages.reduce(0) { $0 + $1.encoded().count }
            guard heldCount + messages.count <= Self.maximumHeldMessages, heldBytes <= Self.maximumHeldBytes else {
                heldUntilOpen = []
                closeReason = .protocolViolation(
                    "more than \(Self.maximumHeldMessages) messages or \(Self.maximumHeldBytes) bytes before the channel opened")
                stop()
                return closeReason
            }
            heldUntilOpen?.append(contentsOf: messages)
            return nil
        }
        var actions: [ReplicationSession.Action] = []
        for message in messages { actions += session.received(message) }
        await perform(actions)
        reportLag()
        return closeReason
    }

    /// Replication lag for operators: how many blocks the peer holds (contiguously) beyond ours, summed over every
    /// driver (`ReplicationMetrics`). A log's own writer is never behind.
    private func reportLag() {
        let theirs = session.remoteContiguousLength, ours = session.local.contiguousLength
        let lag = stopped || closeReason != nil || session.local.isWriter || theirs <= ours ? 0 : Int(clamping: theirs - ours)
        guard lag != reportedLag else { return }
        ReplicationMetrics.add(lag - reportedLag)
        reportedLag = lag
    }

    /// Re-reads the log's state and tells the session (appends, data from other peers).
    public func localChanged() async {
        guard closeReason == nil else { return }
        let state = await Self.localState(of: log)
        // Our own verified data already updated the session; only changes from elsewhere need work.
        guard state != session.local else { return }
        await perform(session.localChanged(state))
        reportLag()
    }

    private func follow(_ changes: LogChangeSignal) async {
        while await changes.next() { await localChanged() }
        await log.stopSignalling(changes)
    }

    /// How many tree nodes the session remembers (tests).
    var rememberedNodeCount: Int { session.rememberedNodeCount }

    /// Stops following the log.
    public func stop() {
        following?.cancel()
        following = nil
        stopped = true
        ReplicationMetrics.add(-reportedLag)
        reportedLag = 0
    }

    private func perform(_ initial: [ReplicationSession.Action]) async {
        var pending = initial
        while !pending.isEmpty, closeReason == nil {
            var outgoing: [ReplicationMessage] = []
            var toVerify: [DataMessage] = []
            var toAnswer: [RequestMessage] = []
            var next: [ReplicationSession.Action] = []
            for action in pending {
                switch action {
                case .send(let message):
                    outgoing.append(message)
                case .answer(let request):
                    toAnswer.append(request)
                case .verify(let data):
                    toVerify.append(data)
                case .close(let reason):
                    closeReason = reason
                }
            }
            if !toAnswer.isEmpty {
                // All proofs of a burst are built in one storage read.
                let results = (try? await log.proofs(for: toAnswer))
                    ?? toAnswer.map { _ in .failure(HyperLogError.corruptStorage("proof storage read failed")) }
                for (request, result) in zip(toAnswer, results) {
                    switch result {
                    case .success(let data):
                        next += session.answered(data)
                    case .failure(let error):
                        if case .corruptStorage = error, reportedFaults.insert(request.block?.index ?? .max).inserted {
                            onStorageFault(error)
                        }
                        let reason = if case .invalidRequest = error { NoDataMessage.invalidRequest } else {
                            NoDataMessage.notAvailable
                        }
                        next += session.unanswerable(request, reason: reason)
                    }
                }
            }
            if !outgoing.isEmpty { transport(outgoing) }
            if !toVerify.isEmpty, closeReason == nil {
                let outcomes: [SignedLog.ApplyOutcome]
                do {
                    outcomes = try await log.apply(toVerify)
                } catch {
                    // Storage failed: nothing was committed; treat as a local fault and stop this channel.
                    closeReason = .localStorageFailed("\(error)")
                    break
                }
                let state = await Self.localState(of: log)
                for (data, outcome) in zip(toVerify, outcomes) {
                    switch outcome {
                    case .accepted(_, _, let established):
                        next += session.verified(request: data.request, outcome: .accepted(established: established), local: state)
                    case .rejected(.missingNode):
                        next += session.verified(request: data.request, outcome: .retry, local: state)
                    case .rejected(.outdated):
                        next += session.verified(request: data.request, outcome: .retry, local: state)
                    case .rejected:
                        next += session.verified(request: data.request, outcome: .rejected, local: state)
                    }
                }
            }
            pending = next
        }
        if closeReason != nil { stop() }
    }
}
