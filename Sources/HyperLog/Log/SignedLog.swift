import CompactEncoding
import Foundation
import GRDB
import Sodium

/// One Hypercore-compatible signed append-only log, backed by a store's database.
///
/// Writable when it holds the key pair of its manifest's signer; otherwise a read-only replica that accepts data
/// only through verified proofs. An actor: appends from the IRC side and data from replication sessions are
/// serialised here, and each state change is one storage transaction.
///
/// Its methods call the database synchronously, so every log runs on its store's storage thread (`StorageExecutor`)
/// instead of Swift's shared pool: a commit waiting for the disk suspends its caller and blocks no other task.
public actor SignedLog {
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// The store's executor (see `LogStore.executor`).
    public nonisolated let executor: any SerialExecutor & TaskExecutor

    public nonisolated let key: [UInt8]
    public nonisolated let discoveryKey: [UInt8]
    public private(set) var manifest: Manifest?
    let keyPair: Ed25519.KeyPair?
    let storage: LogStorage
    let coreID: Int64
    /// Roots of the signed head (plus nodes created by an append in flight); the rest of the tree is on disk.
    var tree: MerkleTree
    /// Encoded `MultiSignature` of the current head; nil for an empty log.
    public private(set) var signature: [UInt8]?
    private var subscribers: [UUID: AsyncStream<LogEvent>.Continuation] = [:]
    private var changeSignals: [ObjectIdentifier: LogChangeSignal] = [:]
    /// Told of every change that adds blocks, inside its transaction (see `LogCommitCompanion`); the store's.
    var commitCompanion: (any LogCommitCompanion)?
    /// Blocks 0 ..< contiguousLength are all stored locally.
    public private(set) var contiguousLength: UInt64
    /// Recently established nodes, so sequential downloads do not read every proof's anchor back from disk.
    private var recentNodes: [UInt64: TreeNode] = [:]
    private static let recentNodeLimit = 8192

    /// For a writable log: its length as recorded outside the database (`ExpectedLengthFile`).
    private let expectedLengthFile: ExpectedLengthFile?
    /// How long this log is known to be (from that file, or from a verified head peers hold).
    public private(set) var expectedLength: UInt64 = 0
    /// The path of this log's expected-length file when it could not be read at open (damaged, or not ours): it was
    /// ignored, so a lost store is noticed only through peers until the next append records the length again.
    public private(set) var expectedLengthFileUnreadable: String?

    /// A writable log that holds less than it is known to have: the database was lost or an older copy restored.
    /// Appending now would fork it (and its entries would sort before our own earlier ones), so appends are refused
    /// until peers have given back every block; meanwhile it replicates like a reader.
    public var isBehind: Bool { shortfall != nil }

    /// For a log that `isBehind`: the blocks it holds from the start and the length it is known to have (one read for
    /// callers on another actor); nil otherwise.
    public var shortfall: (have: UInt64, expected: UInt64)? {
        let expected = max(expectedLength, tree.length)
        return isWritable && contiguousLength < expected ? (contiguousLength, expected) : nil
    }

    public var length: UInt64 { tree.length }
    public var byteLength: UInt64 { tree.byteLength }
    public var fork: UInt64 { tree.fork }
    public var roots: [TreeNode] { tree.roots }
    public var treeHash: [UInt8] { tree.treeHash }
    public nonisolated var isWritable: Bool { keyPair != nil }

    /// Everything a replication session needs to know about the log, read in one actor hop.
    public var replicationState: ReplicationSession.LocalState {
        var state = ReplicationSession.LocalState(
            length: tree.length, fork: tree.fork, contiguousLength: contiguousLength, hasManifest: manifest != nil,
            rootIndices: tree.roots.map(\.index))
        state.isWriter = isWritable && !isBehind
        return state
    }

    /// Opens a stored core. The head (roots and signature) is checked against the manifest; a mismatch means the
    /// store was corrupted and is reported, not trusted.
    init(
        record: LogStorage.CoreRecord, storage: LogStorage, keyPair: Ed25519.KeyPair?, executor: any SerialExecutor & TaskExecutor,
        expectedLength: ExpectedLengthFile? = nil, commitCompanion: (any LogCommitCompanion)? = nil
    ) throws {
        self.executor = executor
        self.commitCompanion = commitCompanion
        self.expectedLengthFile = expectedLength
        self.key = record.key
        self.discoveryKey = record.discoveryKey
        self.storage = storage
        self.coreID = record.id
        self.keyPair = keyPair
        self.signature = record.signature
        if let encoded = record.manifest {
            let manifest: Manifest
            do { manifest = try Manifest(compactEncoded: encoded) } catch {
                throw HyperLogError.corruptStorage("manifest of \(ZBase32.encode(record.key)) does not decode")
            }
            guard manifest.key == record.key else {
                throw HyperLogError.corruptStorage("manifest of \(ZBase32.encode(record.key)) does not hash to its key")
            }
            self.manifest = manifest
        } else {
            self.manifest = nil
        }
        let rootIndices = FlatTree.roots(forLength: record.length)
        let found = try storage.nodes(core: record.id, indices: rootIndices)
        tree = try MerkleTree(length: record.length, fork: record.fork, nodes: found)
        contiguousLength = min(try record.contiguousLength ?? storage.contiguousLength(core: record.id), record.length)
        switch expectedLength?.read() {
        case .length(let recorded)?:
            self.expectedLength = max(recorded, record.length)
        case .unreadable?:
            // Damaged or foreign: knowing nothing is safer than trusting it (a huge value would refuse the log for
            // good). Peers' verified heads are still noticed; the owner is told (`expectedLengthFileUnreadable`).
            self.expectedLength = record.length
            expectedLengthFileUnreadable = expectedLength?.path
        case .none?, nil:
            self.expectedLength = record.length
        }
        guard tree.byteLength == record.byteLength else {
            throw HyperLogError.corruptStorage("byte length of \(ZBase32.encode(record.key)) disagrees with its roots")
        }
        if record.length > 0 {
            guard let manifest, let signature,
                manifest.verify(signature: signature, treeHash: tree.treeHash, length: tree.length, fork: tree.fork)
            else {
                throw HyperLogError.corruptStorage("signed head of \(ZBase32.encode(record.key)) does not verify")
            }
        }
    }

    // MARK: - Writing

    /// Appends `blocks` as one atomic batch: either all are stored and signed, or none. Returns the new length.
    @discardableResult
    public func append(_ blocks: [[UInt8]]) throws -> UInt64 {
        guard let keyPair else { throw HyperLogError.notWritable }
        if let (have, expected) = shortfall { throw HyperLogError.behind(have: have, expected: expected) }
        guard !blocks.isEmpty else { return tree.length }
        let firstIndex = tree.length
        var next = tree
        let created = next.append(blocks, cacheNodes: false)
        let signed = sign(next, keyPair: keyPair)
        let indexed = blocks.enumerated().map { (index: firstIndex + UInt64($0.offset), data: $0.element) }
        let contiguous = contiguousLength == firstIndex ? next.length : contiguousLength
        try withCompanion(newBlocks: indexed, contiguousLength: contiguous) { alongside in
            try storage.commit(
                core: coreID, blocks: indexed, nodes: created, length: next.length, byteLength: next.byteLength,
                fork: next.fork, signature: signed, contiguousLength: contiguous, alongside: alongside)
        }
        next.retainOnlyRoots()
        tree = next
        signature = signed
        contiguousLength = contiguous
        expectedLength = next.length
        expectedLengthFile?.record(next.length)
        publish(.appended(length: next.length))
        return next.length
    }

    /// Truncates to `newLength` blocks, bumps the fork id and re-signs.
    public func truncate(to newLength: UInt64) throws {
        guard let keyPair else { throw HyperLogError.notWritable }
        var full = try MerkleTree(length: tree.length, fork: tree.fork, nodes: try storage.allNodes(core: coreID))
        try full.truncate(to: newLength)
        let signed = newLength == 0 ? nil : sign(full, keyPair: keyPair)
        try storage.truncate(
            core: coreID, length: full.length, byteLength: full.byteLength, fork: full.fork, signature: signed,
            keptNodes: Array(full.nodes.values))
        full.retainOnlyRoots()
        tree = full
        signature = signed
        recentNodes = [:]
        contiguousLength = min(contiguousLength, full.length)
        expectedLength = full.length
        expectedLengthFile?.record(full.length)
        publish(.truncated(length: full.length, fork: full.fork))
    }

    /// Runs `commit` (a storage commit) with the companion's work for `newBlocks` inside its transaction (the
    /// `alongside` it is given; nil without a companion or new blocks), and tells the companion whether it was kept.
    private func withCompanion(
        newBlocks: [(index: UInt64, data: [UInt8])], contiguousLength: UInt64,
        _ commit: (((Database) throws -> Void)?) throws -> Void
    ) throws {
        guard let companion = commitCompanion, !newBlocks.isEmpty else { return try commit(nil) }
        let key = self.key, core = coreID
        do {
            try commit { db in
                try companion.logWillCommit(
                    LogChangeInTransaction(
                        key: key, contiguousLength: contiguousLength, database: db, core: core,
                        arrived: Dictionary(newBlocks.lazy.map { ($0.index, $0.data) }, uniquingKeysWith: { $1 })))
            }
        } catch {
            companion.logDidEnd(key: key, committed: false)
            throw error
        }
        companion.logDidEnd(key: key, committed: true)
    }

    private func sign(_ tree: MerkleTree, keyPair: Ed25519.KeyPair) -> [UInt8] {
        let signable = TreeSignable.bytes(key: key, treeHash: tree.treeHash, length: tree.length, fork: tree.fork)
        return MultiSignature(singleSignature: Ed25519.sign(signable, keyPair: keyPair)).compactEncoded()
    }

    // MARK: - Replication

    /// The proof answering a peer's request, built from stored nodes and blocks.
    public func proof(for request: RequestMessage) throws -> DataMessage {
        guard let result = try proofs(for: [request]).first else { throw HyperLogError.invalidRequest("no request") }
        return try result.get()
    }

    /// Proofs for several requests, built in one storage read.
    public func proofs(for requests: [RequestMessage]) throws -> [Result<DataMessage, HyperLogError>] {
        guard let signature else {
            return requests.map { _ in .failure(.blockNotAvailable(index: 0)) }
        }
        let coreID = self.coreID, tree = self.tree, manifest = self.manifest
        return try storage.read { snapshot in
            let generator = ProofGenerator(
                length: tree.length, fork: tree.fork, signature: signature, manifest: manifest,
                node: { index in
                    if let node = tree.node(at: index) { return node }
                    guard let node = try snapshot.node(core: coreID, index: index) else {
                        throw HyperLogError.missingNode(index: index)
                    }
                    return node
                },
                block: { index in
                    guard let block = try snapshot.block(core: coreID, index: index) else {
                        throw HyperLogError.blockNotAvailable(index: index)
                    }
                    return block
                })
            return requests.map { request in
                do {
                    return .success(try generator.proof(for: request))
                } catch let error as HyperLogError {
                    return .failure(error)
                } catch {
                    return .failure(.corruptStorage("\(error)"))
                }
            }
        }
    }

    /// What applying one `data` message did.
    public enum ApplyOutcome: Sendable, Equatable {
        /// Verified and stored; `upgradedTo` is the new signed length when the proof carried an upgrade.
        case accepted(block: UInt64?, upgradedTo: UInt64?, established: [UInt64])
        /// Failed verification; nothing from it was stored.
        case rejected(HyperLogError)
    }

    /// Verifies `messages` in order against the evolving state and stores everything that verified in one
    /// transaction. A message that fails is reported and skipped; it changes nothing.
    public func apply(_ messages: [DataMessage]) throws -> [ApplyOutcome] {
        var outcomes: [ApplyOutcome] = []
        var blocks: [(index: UInt64, data: [UInt8])] = []
        var nodes: [TreeNode] = []
        var learnedManifest: Manifest?
        var head: ProofVerifier.Verified.Upgrade?
        let coreID = self.coreID
        // Nodes established earlier in this batch are trusted anchors for later messages. A reference box: the
        // verifier's closure reads it while the loop adds to it, and a captured dictionary would be copied whole
        // for every message.
        let pending = NodeBox()
        let recent = recentNodes
        try storage.read { snapshot in
            for message in messages {
                let tree = self.tree
                let verifier = ProofVerifier(
                    key: key, manifest: manifest ?? learnedManifest, length: head?.length ?? tree.length,
                    fork: head?.fork ?? tree.fork, roots: head?.roots ?? tree.roots,
                    localNode: { index in
                        if let node = pending.nodes[index] ?? recent[index] ?? tree.node(at: index) { return node }
                        return try snapshot.node(core: coreID, index: index)
                    })
                do {
                    let verified = try verifier.verify(message)
                    nodes += verified.nodes
                    for node in verified.nodes { pending.nodes[node.index] = node }
                    if let block = verified.block { blocks.append((block.index, block.value)) }
                    if let upgrade = verified.upgrade {
                        head = upgrade
                        if manifest == nil { learnedManifest = upgrade.manifest }
                    }
                    outcomes.append(
                        .accepted(
                            block: verified.block?.index, upgradedTo: verified.upgrade?.length,
                            established: verified.nodes.map(\.index)))
                } catch let error as HyperLogError {
                    outcomes.append(.rejected(error))
                } catch {
                    outcomes.append(.rejected(.corruptStorage("\(error)")))
                }
            }
        }
        guard !blocks.isEmpty || !nodes.isEmpty || head != nil else { return outcomes }
        let newLength = head?.length ?? tree.length
        let newFork = head?.fork ?? tree.fork
        let newRoots = head?.roots ?? tree.roots
        // The contiguous mark advances over the blocks arriving now (and any stored before them); it is stored with
        // them.
        let arrived = Set(blocks.map(\.index))
        var contiguous = contiguousLength
        while contiguous < newLength, try arrived.contains(contiguous) || storage.hasBlock(core: coreID, index: contiguous) {
            contiguous += 1
        }
        try withCompanion(newBlocks: blocks, contiguousLength: contiguous) { alongside in
            try storage.commit(
                core: coreID, blocks: blocks, nodes: nodes, length: newLength,
                byteLength: newRoots.reduce(0) { $0 + $1.size }, fork: newFork, signature: head?.signature ?? signature,
                manifest: learnedManifest?.compactEncoded(), contiguousLength: contiguous, alongside: alongside)
        }
        if let learnedManifest { manifest = learnedManifest }
        if let head {
            tree.upgrade(length: head.length, fork: head.fork, roots: head.roots)
            tree.retainOnlyRoots()
            signature = head.signature
        }
        if recentNodes.count + nodes.count > Self.recentNodeLimit { recentNodes = [:] }
        for node in nodes { recentNodes[node.index] = node }
        contiguousLength = contiguous
        if let head {
            // Our own log, given back by a peer: that length is now known, whatever the file said.
            if isWritable, head.length > expectedLength {
                expectedLength = head.length
                expectedLengthFile?.record(head.length)
            }
            publish(.upgraded(length: head.length))
        }
        if !blocks.isEmpty { publish(.downloaded(indices: blocks.map(\.index))) }
        return outcomes
    }

    // MARK: - Reading

    /// The block at `index`.
    public func get(_ index: UInt64) throws -> [UInt8] {
        guard index < tree.length, let block = try storage.block(core: coreID, index: index) else {
            throw HyperLogError.blockNotAvailable(index: index)
        }
        return block
    }

    /// The contiguously stored blocks from `start` on (at most `limit`), read in one transaction: what a reader that
    /// follows the log needs after each change, in one call instead of one per block.
    public func contiguousBlocks(from start: UInt64, limit: Int = 4096) throws -> [[UInt8]] {
        guard start < contiguousLength, limit > 0 else { return [] }
        let end = min(contiguousLength, start + UInt64(limit))
        let coreID = self.coreID
        return try storage.read { try $0.blocks(core: coreID, in: start..<end) }
    }

    /// Whether the block at `index` is stored locally.
    public func has(_ index: UInt64) throws -> Bool {
        guard index < tree.length else { return false }
        return try storage.hasBlock(core: coreID, index: index)
    }

    /// A tree node from storage (or the in-memory roots).
    public func node(at index: UInt64) throws -> TreeNode? {
        if let node = tree.node(at: index) { return node }
        return try storage.node(core: coreID, index: index)
    }

    /// Recomputes the whole tree from the stored blocks and checks it against the signed roots and signature.
    /// Expensive (reads every block); used after crashes and by `pearircd` integrity checks.
    public func verifyEverything() throws {
        var rebuilt = MerkleTree()
        var index: UInt64 = 0
        while index < tree.length {
            let upper = min(index + 1024, tree.length)
            var batch: [[UInt8]] = []
            for blockIndex in index..<upper {
                guard let block = try storage.block(core: coreID, index: blockIndex) else {
                    throw HyperLogError.corruptStorage("block \(blockIndex) missing")
                }
                batch.append(block)
            }
            rebuilt.append(batch)
            rebuilt.retainOnlyRoots()
            index = upper
        }
        guard rebuilt.roots == tree.roots else { throw HyperLogError.corruptStorage("blocks do not match the roots") }
        if tree.length > 0 {
            guard let manifest, let signature,
                manifest.verify(signature: signature, treeHash: tree.treeHash, length: tree.length, fork: tree.fork)
            else { throw HyperLogError.corruptStorage("signature does not verify") }
        }
    }

    // MARK: - Events

    /// A stream of everything that happens to this log from now on.
    public func events() -> AsyncStream<LogEvent> {
        let (stream, continuation) = AsyncStream<LogEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = UUID()
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    private func unsubscribe(_ id: UUID) {
        subscribers[id] = nil
    }

    /// A signal of every change from now on, for a consumer that re-reads the state (see `LogChangeSignal`). The
    /// consumer hands it back with `stopSignalling` when it stops following.
    public func changes() -> LogChangeSignal {
        let signal = LogChangeSignal()
        changeSignals[ObjectIdentifier(signal)] = signal
        return signal
    }

    public func stopSignalling(_ signal: LogChangeSignal) {
        changeSignals[ObjectIdentifier(signal)] = nil
        signal.finish()
    }

    func publish(_ event: LogEvent) {
        for continuation in subscribers.values { continuation.yield(event) }
        for signal in changeSignals.values { signal.signal() }
    }
}

extension MerkleTree {
    /// Drops cached nodes except the roots: the rest lives in storage.
    mutating func retainOnlyRoots() {
        replaceNodes(with: Dictionary(uniqueKeysWithValues: roots.map { ($0.index, $0) }))
    }
}

/// A mutable node map shared by reference within one `apply` call (never across tasks).
final class NodeBox {
    var nodes: [UInt64: TreeNode] = [:]
}
