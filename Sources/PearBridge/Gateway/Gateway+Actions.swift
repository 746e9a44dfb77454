import Foundation
import HyperLog
import Logging
import SwarmEngine

/// Performing what `GatewayState` decided: the actor's I/O (logs, appenders, replication drivers, channels,
/// discovery, the catalogue). Part of `Gateway`, in its own file for length; called only from the mailbox loop.
extension Gateway {
    // MARK: - Actions

    func perform(_ actions: [GatewayAction], group: inout DiscardingTaskGroup) async {
        for action in actions {
            switch action {
            case .append(let topic, let writer, let entries):
                metrics.localLines.increment(by: entries.count { [.message, .action, .notice].contains($0.kind) })
                append(entries, to: topic, writer: writer)
            case .openReplica(let topic, let writer):
                do {
                    let log = if let known = logs[writer] { known } else { try await store.replica(key: writer) }
                    logs[writer] = log
                    await follow(log, group: &group)
                    await ingestAvailable(topic, writer: writer, group: &group)
                } catch {
                    logger.warning("could not open writer log", metadata: ["error": "\(error)"])
                    state.replicaFailed(topic, writer: writer)
                }
            case .openChannel(let id, let name, let channelID, let handshake):
                links[id]?.mux.open(protocol: name, id: channelID, handshake: handshake)
            case .send(let id, let name, let channelID, let type, let message):
                links[id]?.mux.send(protocol: name, id: channelID, type: type, message: message)
            case .closeChannel(let id, let name, let channelID):
                links[id]?.mux.close(protocol: name, id: channelID)
            case .rejectChannel(let id, let name, let channelID):
                links[id]?.mux.reject(protocol: name, id: channelID)
            case .startReplication(let id, let writer, let discoveryKey, let remote):
                await startReplication(of: writer, discoveryKey: discoveryKey, remote: remote, on: id)
            case .stopReplication(let id, let discoveryKey):
                await links[id]?.unregister(discoveryKey)?.stop()
            case .replicationOpened(let id, let discoveryKey, let remote):
                if let reason = await links[id]?.driver(discoveryKey)?.remoteOpened(remote) { replicationEnded(id, reason) }
            case .disconnect(let id, let reason):
                // Reported once: later batches of a closed channel say the same again.
                guard let link = links[id], link.markMisbehaved() else { continue }
                logger.warning("disconnecting peer", metadata: ["peer": "\(link.mux.label)", "reason": "\(reason)"])
                link.mux.disconnect()
                onMisbehaviour(link.mux.remotePublicKey, reason)
            case .discover(let topic, let joined):
                if joined { await discovery?.join(topic: topic.discoveryTopic) } else { await discovery?.leave(topic: topic.discoveryTopic) }
            case .checkAlone(let topic):
                let delay = aloneNoticeDelay
                group.addTask { [weak self] in
                    try? await Task.sleep(for: delay)
                    self?.post(.aloneCheck(topic))
                }
            case .saveCatalogue:
                catalogueChanged = true
            case .publish(let event):
                // An ignored person's direct lines go to no front end; a room's lines are hidden by the front end from
                // those of our people who ignore the author (`IgnoreList.ignorers`), not from the others.
                if case .directLine(let to, let line) = event, ignores.hides(line.author, from: to) { continue }
                if case .line = event { metrics.remoteLines.increment() }
                roomEvents.publish(event)
            case .seek(let identity, let seeking):
                // Their gateway announces the person's topic; we only look it up.
                await discovery?.lookUp(topic: PeopleWire.discoveryTopic(of: identity), seeking)
            case .peopleProven(let id, let people):
                guard links[id] != nil else { continue }
                connectedKeys.withLock { keys in for person in people { keys[person, default: 0] += 1 } }
            case .openConversation(let conversation):
                _ = await openConversation(with: conversation.theirs, for: conversation.ours, group: &group)
            case .announcePerson(let person):
                await discovery?.join(topic: PeopleWire.discoveryTopic(of: person))
            case .skippedBlock(let topic, let writer, let index):
                logger.warning(
                    "skipped a block that is not a valid entry (malformed, or sealed with another key)",
                    metadata: [
                        "room": "\(state.rooms[topic]?.channel ?? topic.description)", "writer": "\(ZBase32.encode(writer))",
                        "index": "\(index)",
                    ])
            }
        }
    }

    /// Queues entries for the room's next commit; the request being handled completes once they are committed and
    /// ingested.
    func append(_ entries: [RoomEntry], to topic: RoomTopic, writer: [UInt8]) {
        guard !entries.isEmpty else { return }
        let completion = currentRequest
        completion?.add()
        pendingAppends.add(PendingAppends.Batch(entries: entries, completion: completion), to: topic, writer: writer)
    }

    /// Commits every room's waiting entries (one append per local log of a room), ingests them and completes the
    /// requests waiting on them. The store's thread is the gateway's own, so the commit is a call, not a hop; the fsync it waits for is the
    /// one pause in handling jobs, and what queues up during it goes into the next commit. The entries are indexed in
    /// the append's own transaction (the gateway is the store's `LogCommitCompanion`).
    func commitPendingAppends(group: inout DiscardingTaskGroup) async {
        for commit in pendingAppends.takeAll() {
            let topic = commit.topic
            let outcome: PendingAppends.Outcome
            let own = commit.writer
            if state.rooms[topic]?.isLocal(own) == true, let log = logs[own] {
                do {
                    // A direct conversation's entries are sealed for its two people (`SealedEntry`).
                    let blocks = try state.rooms[topic]?.kind.contentKey.map { key in
                        try commit.blocks.map { try SealedEntry.seal($0, key: key, writer: own) }
                    } ?? commit.blocks
                    let length = try await log.append(blocks)
                    outcome = .appended(first: length - UInt64(blocks.count), blocks: blocks)
                } catch {
                    outcome = .failed("\(error)")
                }
            } else {
                outcome = .failed("\(state.rooms[topic]?.channel ?? "the room") is not a room this gateway holds")
            }
            switch outcome {
            case .appended:
                // Ingested inside the append's transaction (`Gateway+Companion`); what that decided is done now.
                await performCommitted(group: &group)
            case .failed(let reason):
                logger.error(
                    "could not append to room log",
                    metadata: ["room": "\(state.rooms[topic]?.channel ?? topic.description)", "error": "\(reason)"])
                state.appendFailed(topic, writer: own)
                // Refused because a peer proved our log longer than our store has it: recovery starts now.
                if let own = state.rooms[topic]?.ownWriter, let log = logs[own] { await checkRecovery(of: log, in: topic, group: &group) }
            }
            let failure = outcome.failure.map { state.recoveryRefusal(topic) ?? $0 }
            for completion in commit.completions { completion.finish(failure: failure) }
        }
    }

    func startReplication(of writer: [UInt8], discoveryKey: [UInt8], remote: ReplicationHandshake?, on id: ConnectionID) async {
        guard let link = links[id], let log = logs[writer] else { return }
        let mux = link.mux
        do {
            let logger = self.logger
            let driver = try await ReplicationDriver(
                log: log, handshakeHash: mux.handshakeHash, isInitiator: mux.isInitiator,
                onStorageFault: { error in
                    logger.error("the store is damaged", metadata: ["writer": "\(ZBase32.encode(writer))", "error": "\(error)"])
                }
            ) { messages in
                mux.send(protocol: ReplicationMessage.protocolName, id: discoveryKey, messages: messages.map { ($0.type, $0.encoded()) })
            }
            // Registered before our open goes out: the peer's messages can only arrive after it.
            link.register(driver, for: discoveryKey)
            mux.open(protocol: ReplicationMessage.protocolName, id: discoveryKey, handshake: driver.handshake.compactEncoded())
            if let remote, let reason = await driver.remoteOpened(remote) { replicationEnded(id, reason) }
        } catch {
            logger.error("could not start replication", metadata: ["error": "\(error)"])
        }
    }

    /// Follows a writer log: whatever verified data arrives is ingested. The subscription is made before this
    /// returns, so nothing published after it (e.g. by a replication started next) is missed.
    func follow(_ log: SignedLog, group: inout DiscardingTaskGroup) async {
        guard followed.insert(log.key).inserted else { return }
        let changes = await log.changes()
        group.addTask { await self.followChanges(changes, of: log) }
    }

    /// On the gateway's executor, as the log's own: a change costs no thread switch to notice.
    private func followChanges(_ changes: LogChangeSignal, of log: SignedLog) async {
        let writer = log.key
        while await changes.next() {
            // One job per writer waits at a time: a burst of appends is read in one go.
            guard changedLogs.withLock({ $0.insert(writer).inserted }) else { continue }
            post(.logChanged(writer: writer))
        }
        await log.stopSignalling(changes)
    }

    /// Reads the writer's blocks from where the room stopped up to what is stored contiguously (one storage call per
    /// 4,096 blocks), and ingests them.
    func ingestAvailable(_ topic: RoomTopic, writer: [UInt8], group: inout DiscardingTaskGroup) async {
        guard let log = logs[writer] else { return }
        while true {
            let first = state.ingestedLength(topic, writer: writer)
            let blocks: [[UInt8]]
            do {
                blocks = try await log.contiguousBlocks(from: first)
            } catch {
                logger.error("could not read a writer log", metadata: ["writer": "\(ZBase32.encode(writer))", "error": "\(error)"])
                return
            }
            guard !blocks.isEmpty else { return }
            await perform(indexed(topic) { $0.blocksRead(topic, writer: writer, from: first, blocks: blocks) }, group: &group)
            // Nothing ingested (the room is gone): stop rather than read the same blocks again.
            guard state.ingestedLength(topic, writer: writer) > first else { return }
        }
    }

    /// Whether our log of the room is behind what it is known to have: if so the user is told, it is followed (so
    /// what peers give back is ingested) and replicated like a reader until whole; once whole, the user is told.
    func checkRecovery(of log: SignedLog, in topic: RoomTopic, group: inout DiscardingTaskGroup) async {
        let channel = state.rooms[topic]?.channel ?? topic.description
        if let (have, expected) = await log.shortfall {
            if state.rooms[topic]?.recovering == nil {
                logger.error(
                    "our log of a room holds less than it is known to have; recovering it from peers before appending",
                    metadata: ["room": "\(channel)", "have": "\(have)", "expected": "\(expected)"])
                await follow(log, group: &group)
            }
            await perform(state.ownLogBehind(topic, have: have, expected: expected), group: &group)
        } else if state.rooms[topic]?.recovering != nil {
            let length = await log.contiguousLength
            logger.info("our log of a room is whole again", metadata: ["room": "\(channel)", "length": "\(length)"])
            await perform(state.ownLogRecovered(topic), group: &group)
        }
    }

    func saveCatalogue() {
        catalogueChanged = false
        do {
            try catalogue.save(RoomCatalogue.rooms(of: state))
        } catch {
            logger.error("could not save rooms", metadata: ["error": "\(error)"])
        }
    }
}
