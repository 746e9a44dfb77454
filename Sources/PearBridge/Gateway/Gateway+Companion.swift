import HyperLog

/// The gateway as its store's `LogCommitCompanion`: a log's new blocks are ingested into the rooms that have its
/// writer inside the transaction that stores them, so the history index holds an entry exactly when its block is
/// stored (a crash or a full disk keeps both or neither). What the rooms decide is performed once the transaction is
/// kept; if it is not, the rooms are read back from their ledgers, as they were before it.
///
/// The store calls these from inside a log's method on the store's executor, which is the gateway's own
/// (`unownedExecutor`): the gateway is not running a job then (it is waiting on that log, or idle), so its state is
/// reached with `assumeIsolated`, without a hop.
extension Gateway: LogCommitCompanion {
    public nonisolated func logWillCommit(_ change: LogChangeInTransaction) throws {
        // Used on this thread only, during this call (it holds the open transaction's connection).
        nonisolated(unsafe) let change = change
        try assumeIsolated { try $0.ingest(change) }
    }

    public nonisolated func logDidEnd(key: [UInt8], committed: Bool) {
        assumeIsolated { $0.transactionEnded(committed: committed) }
    }

    /// Ingests the change's new contiguous blocks into every room with its writer (4,096 at a time).
    private func ingest(_ change: LogChangeInTransaction) throws {
        let writer = change.key
        for topic in state.rooms(withWriter: writer) {
            var first = state.ingestedLength(topic, writer: writer)
            while first < change.contiguousLength {
                let blocks: [[UInt8]]
                do {
                    blocks = try change.blocks(from: first)
                } catch {
                    // An older block that fails its check is no reason to refuse this change: the room stays behind
                    // (it is read on from the logs when it next opens) and the damage is reported.
                    logger.error(
                        "could not read a writer log", metadata: ["writer": "\(ZBase32.encode(writer))", "error": "\(error)"])
                    break
                }
                guard !blocks.isEmpty else { break }
                transaction.topics.insert(topic)
                do {
                    transaction.actions += try roomIndex.within(change.database) {
                        state.blocksRead(topic, writer: writer, from: first, blocks: blocks)
                    }
                } catch {
                    logger.error(
                        "could not write the room history index (is the disk full?); the blocks are not stored either",
                        metadata: ["room": "\(state.rooms[topic]?.channel ?? topic.description)", "error": "\(error)"])
                    throw error
                }
                let next = state.ingestedLength(topic, writer: writer)
                // Nothing ingested (the room is gone): stop rather than read the same blocks again.
                guard next > first else { break }
                first = next
            }
        }
    }

    private func transactionEnded(committed: Bool) {
        let ended = transaction
        transaction = IngestingTransaction()
        guard !ended.topics.isEmpty else { return }
        if committed {
            guard !ended.actions.isEmpty else { return }
            let wasEmpty = committedActions.isEmpty
            committedActions += ended.actions
            // Performed by the next job (or by the commit that is waiting for this one, if it comes first).
            if wasEmpty { post(.performCommitted) }
        } else {
            // What the rooms and their ledgers took from the transaction was not kept.
            roomIndex.transactionRolledBack()
            for topic in ended.topics { state.roomReloaded(topic) }
        }
    }

    /// Performs what the rooms decided in transactions that were kept, in order.
    func performCommitted(group: inout DiscardingTaskGroup) async {
        while !committedActions.isEmpty {
            let actions = committedActions
            committedActions = []
            await perform(actions, group: &group)
        }
    }
}

/// What the rooms took from the store transaction under way (see `Gateway+Companion`).
struct IngestingTransaction {
    var topics = Set<RoomTopic>()
    var actions: [GatewayAction] = []
}
