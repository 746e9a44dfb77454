import Sodium

/// The replication state machine of one `hypercore/alpha` channel: one core, one peer.
///
/// Pure: events go in (`opened`, `received`, results of the work it asked for), actions come out (`send`, `answer`
/// a request with a proof, `verify` data, `close`). The shell around it owns the log and the transport: it builds
/// proofs and verifies data against the log, and reports back with `answered`, `verified` and `localChanged`.
///
/// Behaviour follows `hypercore` 11's replicator for a peer that wants everything: announce `sync` and `range` on
/// open, request an upgrade once the remote has acknowledged our length and offers one, download every block the
/// remote has in order with a bounded window, answer requests, and re-announce on every local change.
public struct ReplicationSession {
    /// What the log looks like locally; the shell passes a fresh copy whenever it changes.
    public struct LocalState: Sendable, Equatable {
        /// The log's own writer never downloads: nobody can have more of it than we do.
        public var isWriter: Bool = false
        public var length: UInt64
        public var fork: UInt64
        public var contiguousLength: UInt64
        public var hasManifest: Bool
        /// Roots of the signed head: proofs for blocks under them may stop there.
        public var rootIndices: [UInt64]

        public init(length: UInt64, fork: UInt64, contiguousLength: UInt64, hasManifest: Bool, rootIndices: [UInt64]) {
            self.length = length
            self.fork = fork
            self.contiguousLength = contiguousLength
            self.hasManifest = hasManifest
            self.rootIndices = rootIndices
        }
    }

    public struct Configuration: Sendable {
        /// Requests this side keeps in flight: hypercore's upper bound (its `DEFAULT_MAX_INFLIGHT` is [16, 512]). A
        /// catch-up then takes each burst in one verification and one commit, where 64 left the two sides waiting on
        /// each other (measured: 110,000 lines 6.9 → 5.0 s).
        public var maximumInflight: Int = 512
        /// Requests the remote may have outstanding at us before it counts as flooding.
        public var maximumRemoteRequests: Int = 4096
        /// Unsolicited data messages tolerated (late answers to cancelled requests) before closing.
        public var maximumUnsolicitedData: Int = 256

        public init() {}
    }

    public enum Action: Equatable, Sendable {
        case send(ReplicationMessage)
        /// Build the proof for this request (`answered(_:)` or `unanswerable(_:)` reports back).
        case answer(RequestMessage)
        /// Verify and store this data (`verified(_:)` reports back).
        case verify(DataMessage)
        /// Tear the channel down; the peer misbehaved.
        case close(ReplicationSessionError)
    }

    public let configuration: Configuration
    private let expectedRemoteCapability: [UInt8]
    public let localHandshake: ReplicationHandshake
    public private(set) var local: LocalState
    public private(set) var isOpen = false
    public private(set) var isClosed = false

    // What the remote told us.
    public private(set) var remoteLength: UInt64 = 0
    public private(set) var remoteFork: UInt64 = 0
    public private(set) var remoteCanUpgrade = false
    public private(set) var remoteHasManifest = false
    private var remoteSynced = false
    /// The remote has every block below this.
    public private(set) var remoteContiguousLength: UInt64 = 0
    /// Single blocks the remote announced beyond its contiguous range.
    private var remoteExtraBlocks = Set<UInt64>()
    /// Our length as last acknowledged by the remote's sync.
    private var lengthAcknowledged: UInt64 = 0

    // What we asked for.
    private var nextRequestID: UInt64 = 1
    private var inflight: [UInt64: RequestMessage] = [:]
    private var inflightBlocks = Set<UInt64>()
    private var upgradeInflight = false
    private var lastSentSync: SyncMessage?
    private var announcedContiguous: UInt64 = 0
    /// Tree nodes known locally (from verified proofs in this session), so requests ask only for missing nodes.
    private var knownNodes = Set<UInt64>()
    /// Nodes the proofs of in-flight block requests will bring. Counting on them keeps pipelined proofs short
    /// (a window of sequential blocks needs about one node each instead of a path to the root each); if one of
    /// them fails, the dependent proofs report a missing anchor and are re-requested.
    private var anticipatedNodes = Set<UInt64>()
    private var anchorMisses = 0
    /// How many tree nodes the session remembers (tests: it must not grow with the log).
    var rememberedNodeCount: Int { knownNodes.count + anticipatedNodes.count }
    /// Most nodes remembered in each of the sets above before it is emptied (to the roots). A session that follows a
    /// growing log establishes about two nodes per block, for as long as the connection lasts: at a million that was
    /// up to 24 MiB of a reader's memory after a few hundred thousand lines (measured, docs/benchmarks.md). Proofs
    /// only walk up from the newest blocks, so 16,384 recent nodes keep them short; after a reset, one request asks
    /// for a longer path once.
    static let nodeMemoryLimit = 1 << 14
    /// Where the next block scan starts; everything between the contiguous mark and here is requested or stored.
    private var requestCursor: UInt64 = 0
    private var remoteRequestsOutstanding = 0
    private var unsolicitedData = 0

    /// - Parameters:
    ///   - key: the core key.
    ///   - handshakeHash: the encrypted connection's handshake hash (binds the channel to this connection).
    ///   - isInitiator: our role on that connection.
    public init(
        key: [UInt8], handshakeHash: [UInt8], isInitiator: Bool, local: LocalState,
        configuration: Configuration = Configuration()
    ) throws(SodiumError) {
        self.configuration = configuration
        self.local = local
        localHandshake = ReplicationHandshake(
            seeks: true,
            capability: try ReplicationHandshake.capability(isInitiator: isInitiator, key: key, handshakeHash: handshakeHash))
        expectedRemoteCapability = try ReplicationHandshake.capability(
            isInitiator: !isInitiator, key: key, handshakeHash: handshakeHash)
        knownNodes.formUnion(local.rootIndices)
    }

    // MARK: - Events

    /// The remote's channel open arrived with its handshake.
    public mutating func opened(remote: ReplicationHandshake) -> [Action] {
        guard !isClosed else { return [] }
        guard ConstantTime.equals(remote.capability, expectedRemoteCapability) else {
            return close(.invalidCapability)
        }
        isOpen = true
        var actions = [Action]()
        actions += sendSyncIfChanged(force: true)
        actions += announceRange()
        return actions
    }

    /// A message arrived on the channel.
    public mutating func received(_ message: ReplicationMessage) -> [Action] {
        guard isOpen, !isClosed else { return isClosed ? [] : close(.protocolViolation("message before open")) }
        switch message {
        case .sync(let sync):
            return receivedSync(sync)
        case .request(let request):
            remoteRequestsOutstanding += 1
            guard remoteRequestsOutstanding <= configuration.maximumRemoteRequests else {
                return close(.flooding("more than \(configuration.maximumRemoteRequests) outstanding requests"))
            }
            return [.answer(request)]
        case .cancel:
            // Requests are answered as they arrive; there is nothing queued to cancel.
            return []
        case .data(let data):
            guard inflight[data.request] != nil else {
                unsolicitedData += 1
                return unsolicitedData > configuration.maximumUnsolicitedData
                    ? close(.flooding("too many unsolicited data messages")) : []
            }
            return [.verify(data)]
        case .noData(let noData):
            guard let request = inflight.removeValue(forKey: noData.request) else { return [] }
            if let block = request.block { inflightBlocks.remove(block.index) }
            if request.upgrade != nil { upgradeInflight = false }
            if let block = request.block {
                requestCursor = min(requestCursor, block.index)
                // The remote does not have it after all; stop asking this peer for it.
                remoteExtraBlocks.remove(block.index)
                if block.index < remoteContiguousLength { remoteContiguousLength = block.index }
            }
            return []
        case .want:
            return local.contiguousLength > 0
                ? [.send(.range(RangeMessage(start: 0, length: local.contiguousLength)))] : []
        case .unwant, .extension:
            return []
        case .bitfield(let bitfield):
            receivedBitfield(bitfield)
            return requestMore()
        case .range(let range):
            receivedRange(range)
            return requestMore()
        }
    }

    /// The shell built the proof for a request.
    public mutating func answered(_ data: DataMessage) -> [Action] {
        remoteRequestsOutstanding = max(0, remoteRequestsOutstanding - 1)
        return isClosed ? [] : [.send(.data(data))]
    }

    /// The shell could not answer a request (block missing, invalid range, …).
    public mutating func unanswerable(_ request: RequestMessage, reason: UInt64 = NoDataMessage.notAvailable) -> [Action] {
        remoteRequestsOutstanding = max(0, remoteRequestsOutstanding - 1)
        return isClosed ? [] : [.send(.noData(NoDataMessage(request: request.id, reason: reason)))]
    }

    /// The shell verified (or rejected) a data message; `local` is the log's state afterwards.
    public mutating func verified(
        request requestID: UInt64, outcome: VerificationOutcome, local newLocal: LocalState
    ) -> [Action] {
        guard let request = inflight.removeValue(forKey: requestID) else { return [] }
        if let block = request.block { inflightBlocks.remove(block.index) }
        if request.upgrade != nil { upgradeInflight = false }
        switch outcome {
        case .accepted(let established):
            anchorMisses = 0
            if knownNodes.count > Self.nodeMemoryLimit { knownNodes = Set(local.rootIndices) }
            knownNodes.formUnion(established)
        case .retry:
            // We asked for too few nodes, counting on another proof that has not arrived; ask again, counting
            // only on what we hold. A remote that keeps sending proofs ending at nodes we never counted on is
            // broken or hostile, not unlucky.
            anchorMisses += 1
            guard anchorMisses <= 2 * configuration.maximumInflight else { return close(.invalidProof) }
            anticipatedNodes.removeAll()
            if let block = request.block { requestCursor = min(requestCursor, block.index) }
        case .rejected:
            return close(.invalidProof)
        }
        return localChanged(newLocal)
    }

    /// How the shell's verification of a data message went.
    public enum VerificationOutcome: Equatable, Sendable {
        /// Verified and stored; these tree nodes are now known.
        case accepted(established: [UInt64])
        /// The proof was well formed but does not apply: it ends at a node we do not hold (yet), or our log moved
        /// on while it was in flight. Not the remote's fault; ask again.
        case retry
        /// The proof is wrong: the remote is faulty or malicious.
        case rejected
    }

    /// The local log changed (an append, or data from another peer).
    public mutating func localChanged(_ newLocal: LocalState) -> [Action] {
        guard !isClosed else { return [] }
        local = newLocal
        knownNodes.formUnion(newLocal.rootIndices)
        guard isOpen else { return [] }
        var actions = sendSyncIfChanged(force: false)
        actions += announceRange()
        actions += requestMore()
        return actions
    }

    // MARK: - Internals

    private mutating func close(_ error: ReplicationSessionError) -> [Action] {
        isClosed = true
        return [.close(error)]
    }

    private mutating func receivedSync(_ sync: SyncMessage) -> [Action] {
        let sameFork = sync.fork == local.fork
        remoteFork = sync.fork
        remoteLength = sync.length
        remoteCanUpgrade = sync.canUpgrade
        remoteHasManifest = sync.hasManifest
        remoteSynced = true
        lengthAcknowledged = sameFork ? sync.remoteLength : 0
        var actions = sendSyncIfChanged(force: false)
        actions += requestMore()
        return actions
    }

    private mutating func receivedRange(_ range: RangeMessage) {
        guard range.length <= (1 << 40), range.start <= (1 << 40) else { return }
        if range.drop {
            if range.start < remoteContiguousLength { remoteContiguousLength = range.start }
            remoteExtraBlocks = remoteExtraBlocks.filter { $0 < range.start || $0 >= range.start + range.length }
        } else if range.start <= remoteContiguousLength {
            remoteContiguousLength = max(remoteContiguousLength, range.start + range.length)
        } else if range.length <= 4096 {
            for index in range.start..<(range.start + range.length) { remoteExtraBlocks.insert(index) }
        }
    }

    private mutating func receivedBitfield(_ bitfield: BitfieldMessage) {
        // Leading all-ones words from the remote's contiguous mark extend it; the rest is recorded sparsely.
        for (offset, word) in bitfield.words.enumerated() where word != 0 {
            let base = bitfield.start + UInt64(offset) * 32
            for bit in 0..<32 where word & (1 << UInt32(bit)) != 0 {
                let index = base + UInt64(bit)
                if index == remoteContiguousLength { remoteContiguousLength += 1 } else { remoteExtraBlocks.insert(index) }
            }
        }
        while remoteExtraBlocks.remove(remoteContiguousLength) != nil { remoteContiguousLength += 1 }
    }

    private func remoteHas(_ index: UInt64) -> Bool {
        index < remoteContiguousLength || remoteExtraBlocks.contains(index)
    }

    private mutating func sendSyncIfChanged(force: Bool) -> [Action] {
        let sameFork = remoteFork == local.fork
        let sync = SyncMessage(
            fork: local.fork, length: local.length, remoteLength: remoteSynced && sameFork ? remoteLength : 0,
            canUpgrade: !remoteSynced || (sameFork && remoteLength < local.length) || remoteLength == 0,
            uploading: true, downloading: true, hasManifest: local.hasManifest, allowPush: false)
        guard force || sync != lastSentSync else { return [] }
        lastSentSync = sync
        return [.send(.sync(sync))]
    }

    /// Tells the remote what we have: always once we hold everything, and in steps of 1024 blocks while
    /// downloading (every block would double the message count for little use).
    private mutating func announceRange() -> [Action] {
        guard local.contiguousLength > announcedContiguous else { return [] }
        guard local.contiguousLength == local.length || local.contiguousLength - announcedContiguous >= 1024 else {
            return []
        }
        announcedContiguous = local.contiguousLength
        return [.send(.range(RangeMessage(start: 0, length: local.contiguousLength)))]
    }

    /// Asks for an upgrade when the remote is ahead and ready, then for missing blocks up to the window.
    ///
    /// A writer asks only for an upgrade, and only when the remote says it holds more of our own log than we do (our
    /// store was lost or rolled back): if the remote's signed head verifies, the log knows it is behind and
    /// downloads like a reader until it has everything back. A remote that merely claims more cannot prove it with
    /// our signature, and its proof fails verification.
    private mutating func requestMore() -> [Action] {
        guard isOpen, !isClosed, remoteSynced else { return [] }
        var actions: [Action] = []
        if !upgradeInflight, remoteFork == local.fork, remoteLength > local.length, remoteCanUpgrade,
            lengthAcknowledged == local.length, inflight.count < configuration.maximumInflight
        {
            let request = RequestMessage(
                id: allocateRequestID(), fork: remoteFork,
                upgrade: .init(start: local.length, length: remoteLength - local.length),
                manifest: !local.hasManifest && remoteHasManifest)
            inflight[request.id] = request
            upgradeInflight = true
            actions.append(.send(.request(request)))
        }
        guard remoteFork == local.fork, !local.isWriter else { return actions }
        // Blocks below the cursor were requested already (or are stored); rescanning them on every event would make
        // a large window quadratic. The cursor stops at the first block the remote did not have, so a later range
        // announcement gets it requested; a refused request (noData) moves the cursor back. The scan itself is
        // bounded so a remote that has little never makes one event expensive.
        var index = max(requestCursor, local.contiguousLength)
        var firstUnavailable: UInt64?
        var scanned = 0
        while inflight.count < configuration.maximumInflight, index < local.length, scanned < 4096 {
            if !inflightBlocks.contains(index) {
                if remoteHas(index) {
                    let nodes = missingNodes(block: index)
                    anticipate(block: index, nodes: nodes)
                    let request = RequestMessage(
                        id: allocateRequestID(), fork: local.fork, block: .init(index: index, nodes: nodes))
                    inflight[request.id] = request
                    inflightBlocks.insert(index)
                    actions.append(.send(.request(request)))
                } else if firstUnavailable == nil {
                    firstUnavailable = index
                }
            }
            index += 1
            scanned += 1
        }
        requestCursor = firstUnavailable ?? index
        return actions
    }

    /// Proof nodes to ask for: steps up from the leaf until a node we know or expect (at most up to our root).
    private func missingNodes(block index: UInt64) -> UInt64 {
        let head = 2 * local.length
        var current = 2 * index
        var count: UInt64 = 0
        while !FlatTree.contains(current, head), !knownNodes.contains(current), !anticipatedNodes.contains(current),
            count < 64
        {
            count += 1
            current = FlatTree.parent(current)
        }
        return count
    }

    /// Records the nodes a block proof with `nodes` steps will establish: the leaf, each sibling and each parent.
    private mutating func anticipate(block index: UInt64, nodes: UInt64) {
        if anticipatedNodes.count > Self.nodeMemoryLimit { anticipatedNodes.removeAll() }
        var current = 2 * index
        anticipatedNodes.insert(current)
        for _ in 0..<nodes {
            anticipatedNodes.insert(FlatTree.sibling(current))
            current = FlatTree.parent(current)
            anticipatedNodes.insert(current)
        }
    }

    private mutating func allocateRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }
}

/// Why a replication channel was closed.
public enum ReplicationSessionError: Error, Equatable, Sendable {
    /// The remote's capability does not match this connection and key: it does not know the key, or the channel
    /// was replayed from another connection.
    case invalidCapability
    /// The remote sent data that failed verification.
    case invalidProof
    /// The remote sent more than the limits allow.
    case flooding(String)
    /// The remote broke the protocol's rules.
    case protocolViolation(String)
    /// Our own store could not keep verified data (a full disk, a read-only store): not the remote's fault.
    case localStorageFailed(String)

    /// Whether the remote is to blame (a peer that is should be dropped and banned; one that is not, only left
    /// for now and met again later).
    public var blamesRemote: Bool {
        if case .localStorageFailed = self { false } else { true }
    }
}
