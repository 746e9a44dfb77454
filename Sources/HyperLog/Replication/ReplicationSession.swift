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
        /// Requests this side keeps in flight.
        public var maximumInflight: Int = 64
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
        request requestID: UInt64, accepted: Bool, established: [UInt64], local newLocal: LocalState
    ) -> [Action] {
        guard let request = inflight.removeValue(forKey: requestID) else { return [] }
        if let block = request.block { inflightBlocks.remove(block.index) }
        if request.upgrade != nil { upgradeInflight = false }
        guard accepted else { return close(.invalidProof) }
        knownNodes.formUnion(established)
        return localChanged(newLocal)
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

    private mutating func announceRange() -> [Action] {
        guard local.contiguousLength > announcedContiguous else { return [] }
        announcedContiguous = local.contiguousLength
        return [.send(.range(RangeMessage(start: 0, length: local.contiguousLength)))]
    }

    /// Asks for an upgrade when the remote is ahead and ready, then for missing blocks up to the window.
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
        guard remoteFork == local.fork else { return actions }
        var index = local.contiguousLength
        while inflight.count < configuration.maximumInflight, index < local.length {
            if !inflightBlocks.contains(index), remoteHas(index) {
                let request = RequestMessage(
                    id: allocateRequestID(), fork: local.fork,
                    block: .init(index: index, nodes: missingNodes(block: index)))
                inflight[request.id] = request
                inflightBlocks.insert(index)
                actions.append(.send(.request(request)))
            }
            index += 1
        }
        return actions
    }

    /// Proof nodes to ask for: steps up from the leaf until a node we know (at most up to our root).
    private func missingNodes(block index: UInt64) -> UInt64 {
        let head = 2 * local.length
        var current = 2 * index
        var count: UInt64 = 0
        while !FlatTree.contains(current, head), !knownNodes.contains(current), count < 64 {
            count += 1
            current = FlatTree.parent(current)
        }
        return count
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
}
