import Sodium
import Foundation
import HyperLog
import IRCServer
import Logging
import ServiceLifecycle
import Synchronization
import SwarmEngine

/// A gateway's peer-to-peer side at run time: the shell around `GatewayState`. It owns the store, the logs, the
/// replication drivers and the connections, feeds the state what happened and performs what it decides.
///
/// Everything that changes the state goes through one mailbox and is handled by `run()` one job at a time, each
/// job's actions performed (awaited) before the next job starts: no actor reentrancy can interleave two decisions.
/// Our own lines are committed after every job that queued up meanwhile is handled (`PendingAppends`: a burst is one
/// commit). The tasks it needs (one reader per connection, one follower per log) are children of `run()`'s task
/// group, so they end with it, and run on the gateway's executor too. Replication messages are the exception to the
/// mailbox: a connection's reader hands them to their driver directly, on the same thread.
public actor Gateway: Service {
    public typealias ConnectionID = UInt64

    /// The gateway runs where its store runs, with its logs and their replication drivers: its calls to them and to the
    /// history index are plain calls on one thread, not a thread switch and back for each. `pearircd` gives it the
    /// peer connections' event loop, so a peer's message is read, verified, stored and answered without waking another
    /// thread (a thread switch costs tens of microseconds on a small virtual machine: measured, docs/benchmarks.md);
    /// the price is that a commit's fsync pauses that loop's peer I/O, which would wait for the commit anyway.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        store.unownedExecutor
    }

    public nonisolated let identity: Identity
    /// Room events for every front end.
    public nonisolated let roomEvents = RoomEventHub()
    // The state below is module-internal only so the actor's own extension (`Gateway+Actions.swift`) reaches it;
    // nothing else touches it.
    let store: LogStore
    /// The rooms' history index (in the store's database, written in the store's transactions).
    let roomIndex: RoomIndex
    let logger: Logger
    let metrics = GatewayMetrics()
    let catalogue: RoomCatalogue
    /// People whose lines this gateway's user does not see.
    public nonisolated let ignores: IgnoreList
    var state: GatewayState
    /// Every open writer log (ours and replicas) by key.
    var logs: [[UInt8]: SignedLog] = [:]
    /// What the rooms took from the store transaction under way, and what they decided in kept ones, not yet
    /// performed (see `Gateway+Companion`).
    var transaction = IngestingTransaction()
    var committedActions: [GatewayAction] = []
    /// Our entries waiting for the next commit (see `PendingAppends`).
    var pendingAppends = PendingAppends()
    /// The request being handled, which its appends complete.
    var currentRequest: RequestCompletion?
    var links: [ConnectionID: PeerLink] = [:]
    var nextConnectionID: ConnectionID = 1
    var followed = Set<[UInt8]>()
    /// Writers with a `logChanged` job waiting (shared with their followers, which run outside the actor).
    nonisolated let changedLogs = Mutex(Set<[UInt8]>())
    var catalogueChanged = false
    let mailbox = Mailbox<Job>()
    /// Where the rooms' people are looked for (nil: only peers that connect, or that the owner dials, are met).
    let discovery: (any PeerDiscovery)?
    /// Told when a peer is dropped for misbehaviour (the connection manager bans it for a while).
    let onMisbehaviour: @Sendable ([UInt8], PeerMisbehaviour) -> Void

    /// Most writers a room may have (the default admission rule).
    public static let maximumWritersPerRoom = GatewayState.Limits().writersPerRoom
    /// Most `writers` messages per room and connection that add no new writer before the peer is dropped.
    public static let maximumStaleWriterLists = GatewayState.Limits().staleWriterLists
    /// Most room opens per connection kept unanswered for rooms not joined here; further ones are rejected.
    public static let maximumPendingRoomOpens = GatewayState.Limits().pendingRoomOpens

    enum Job: Sendable {
        /// What one of our people (by identity key) did.
        case request(GatewayRequest, person: [UInt8], RequestCompletion)
        /// A person this gateway speaks for from now on (an account's key pair).
        case addPerson(Ed25519.KeyPair)
        case attach(ConnectionID, PeerLink, PeerEvents)
        /// Room and channel events of one batch, in order; the reader waits for `done` before reading on, so a peer
        /// that sends faster than the gateway handles is slowed down (its socket is not read) instead of queued for.
        case peerEvents(ConnectionID, [PeerEvent], done: CheckedContinuation<Void, Never>)
        case peerGone(ConnectionID)
        case misbehaved(ConnectionID, PeerMisbehaviour)
        /// Our store could not keep what the peer sent (a full disk): we leave the peer for now, without blaming it.
        case localFault(ConnectionID, String)
        case logChanged(writer: [UInt8])
        /// Rooms ingested blocks in a store transaction that was kept: what they decided is to be performed.
        case performCommitted
        /// Our blind relay is up under this key: offer it to every peer.
        case offerRelay([UInt8])
        /// The moment after a lonely join is over (`GatewayAction.checkAlone`).
        case aloneCheck(RoomTopic)
        /// One of our people ignored or unignored someone.
        case ignoreChanged(GatewayState.Conversation)

        func cancelled() {
            switch self {
            case .request(_, _, let completion): completion.finish(failure: Gateway.stoppingFailure)
            case .peerEvents(_, _, let done): done.resume()
            // Too late to take the connection over: end it rather than leave it unread.
            case .attach(_, let link, _): link.mux.end()
            default: break
            }
        }
    }

    /// A connection's events, one by one or in batches (what arrived together is handled together).
    enum PeerEvents: Sendable {
        case single(AsyncStream<PeerEvent>)
        case batches(PeerEventBatches)
    }

    /// - Parameter executor: where the gateway, its store and its replication runs (see `unownedExecutor`); nil gives
    ///   the store a storage thread of its own.
    /// - Parameter people: the people the gateway speaks for besides `identity` (its first person): the accounts'
    ///   key pairs. More can be added while it runs (`addPerson`).
    public init(
        directory: DataDirectory, identity: Identity, people: [Ed25519.KeyPair] = [], logger: Logger,
        discovery: (any PeerDiscovery)? = nil,
        executor: (any SerialExecutor & TaskExecutor)? = nil,
        onMisbehaviour: @escaping @Sendable ([UInt8], PeerMisbehaviour) -> Void = { _, _ in }
    ) throws {
        store = try LogStore(directory: directory.file("store"), executor: executor)
        roomIndex = try RoomIndex(sharing: store.storage)
        Self.removeSeparateIndex(in: directory.file("store"), logger: logger)
        self.identity = identity
        self.logger = logger
        self.onMisbehaviour = onMisbehaviour
        self.discovery = discovery
        catalogue = RoomCatalogue(file: directory.file("rooms.json"))
        ignores = try IgnoreList(file: directory.file("ignores.json"), firstPerson: identity.keyPair.publicKey)
        state = GatewayState(identity: identity.keyPair, fold: Self.fold)
        for person in people { _ = state.addPerson(person) }
        let ignores = self.ignores
        state.refusesDirectMessages = { ignores.contains(ZBase32.encode($0.theirs), by: $0.ours) }
        if store.storage.fullyCheckedAtOpen {
            logger.info("the store was not closed cleanly last time (a crash, or a kill): every page was checked at open")
        }
    }

    /// Room names fold with IRC's rfc1459 casemapping, so `#Rust` and `#rust` are one room on every gateway.
    static let fold: @Sendable (String) -> String = { IRCCasemapping.rfc1459.fold($0) }

    // MARK: - Lifetime

    /// Restores the saved rooms, then handles the mailbox until graceful shutdown (or `shutdown()`); then ends every
    /// peer connection cleanly, stops replication and closes the store.
    public func run() async throws {
        // Its tasks (this loop, the connection readers, the log followers) resume where the gateway runs after waiting,
        // not on Swift's shared pool first.
        await store.setCommitCompanion(self)
        await withTaskExecutorPreference(store.executor) { await serve() }
    }

    private func serve() async {
        let mailbox = self.mailbox
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                await restoreRooms(group: &group)
                // Each person here is found under their own topic (by whoever has a direct message for them): the
                // connections' key is the gateway's, which says nothing of who is behind it.
                for person in state.localPeople { await discovery?.join(topic: PeopleWire.discoveryTopic(of: person.publicKey)) }
                markReady()
                while let job = await mailbox.next() {
                    await process(job, group: &group)
                    // What queued up meanwhile is handled before committing, so a burst of lines is one commit. Only
                    // what is queued now: under a steady stream the commit still comes.
                    for queued in mailbox.drain() { await process(queued, group: &group) }
                    await commitPendingAppends(group: &group)
                }
                // The mailbox is closed (or we were cancelled): lines already taken are committed, and what the other
                // children wait on ends, so the group can finish.
                await commitPendingAppends(group: &group)
                for link in links.values { link.mux.end() }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            mailbox.finish()
        }
        // Jobs left by a cancellation are answered, not lost with their callers waiting.
        mailbox.finish()
        for job in mailbox.drain() { job.cancelled() }
        markReady()
        for (id, link) in links {
            for driver in link.allDrivers { await driver.stop() }
            links[id] = nil
        }
        await store.setCommitCompanion(nil)
        do {
            try await store.close()
        } catch {
            logger.error("could not close the store cleanly", metadata: ["error": "\(error)"])
        }
        logger.info("gateway stopped")
    }

    /// Stops `run()` as a graceful shutdown would (for owners that do not use a service group).
    public nonisolated func shutdown() {
        mailbox.finish()
    }

    /// A replication channel closed with `reason`: a peer at fault is dropped and banned, our own storage failing
    /// only leaves the peer for now.
    nonisolated func replicationEnded(_ id: ConnectionID, _ reason: ReplicationSessionError) {
        if reason.blamesRemote {
            post(.misbehaved(id, .replication("\(reason)")))
        } else {
            post(.localFault(id, "\(reason)"))
        }
    }

    nonisolated func post(_ job: Job) {
        if !mailbox.post(job) { job.cancelled() }
    }

    // MARK: - State the front-end queries use (the queries are in Gateway+FrontEnds.swift)

    /// Whether the saved rooms are restored: before that, a question about a room would find none.
    var isReady = false
    var readyWaiters: [CheckedContinuation<Void, Never>] = []
    /// The people proven on the connections attached now (`PeopleWire`), with on how many each (kept by the mailbox
    /// loop).
    nonisolated let connectedKeys = Mutex<[[UInt8]: Int]>([:])
    /// How long after joining a room nobody shares the user is told so (peers found within it are simply there).
    public var aloneNoticeDelay: Duration = .seconds(3)

    // MARK: - Jobs

    func process(_ job: Job, group: inout DiscardingTaskGroup) async {
        switch job {
        case .request(let request, let person, let completion):
            currentRequest = completion
            await handleRequest(request, person: person, group: &group)
            currentRequest = nil
            completion.finish()
            // Chat lines (the hot path) change neither the rooms joined nor the peers: the gauges are not counted again.
            switch request {
            case .say, .sayDirect: break
            default: metrics.record(state)
            }
        case .addPerson(let keyPair):
            await perform(state.addPerson(keyPair), group: &group)
        case .attach(let id, let link, let events):
            logger.info("peer connected", metadata: ["peer": "\(link.mux.label)", "key": "\(ZBase32.encode(link.mux.remotePublicKey))"])
            group.addTask { await self.read(events, link: link, id: id) }
            await perform(
                state.peerConnected(id, remoteKey: link.mux.remotePublicKey, handshakeHash: link.mux.handshakeHash, isInitiator: link.mux.isInitiator),
                group: &group)
            metrics.record(state)
        case .peerEvents(let id, let events, let done):
            for event in events { await perform(state.peerEvent(event, on: id), group: &group) }
            done.resume()
        case .peerGone(let id):
            defer { metrics.record(state) }
            guard let link = links.removeValue(forKey: id) else { return }
            // The people it proved, read before the state forgets the connection.
            let people = state.peers[id]?.people ?? []
            connectedKeys.withLock { keys in
                for person in people {
                    keys[person, default: 1] -= 1
                    if keys[person] == 0 { keys[person] = nil }
                }
            }
            for driver in link.allDrivers { await driver.stop() }
            logger.info("peer disconnected", metadata: ["peer": "\(link.mux.label)"])
            await perform(state.peerDisconnected(id), group: &group)
        case .misbehaved(let id, let reason):
            await perform([.disconnect(id, reason)], group: &group)
        case .localFault(let id, let reason):
            // Not the peer's doing: no ban; the connection manager meets it again later, when there may be space.
            guard let link = links[id], link.markMisbehaved() else { return }
            logger.error(
                "could not store what a peer sent; leaving it for now (is the disk full?)",
                metadata: ["peer": "\(link.mux.label)", "error": "\(reason)"])
            link.mux.disconnect()
        case .performCommitted:
            await performCommitted(group: &group)
        case .offerRelay(let key):
            await perform(state.offerRelay(key), group: &group)
        case .aloneCheck(let topic):
            await perform(state.aloneCheck(topic), group: &group)
        case .ignoreChanged(let conversation):
            // Unignored while connected: the conversation they may have tried to open (refused then) is opened from
            // here, so what they wrote meanwhile arrives without waiting for a reconnection.
            if !state.refusesDirectMessages(conversation), state.isConnected(conversation.theirs),
                state.conversation(with: conversation.theirs, for: conversation.ours) == nil, state.people[conversation.ours] != nil
            {
                _ = await openConversation(with: conversation.theirs, for: conversation.ours, group: &group)
            }
            await perform(state.directRefusalChanged(conversation), group: &group)
        case .logChanged(let writer):
            _ = changedLogs.withLock { $0.remove(writer) }
            for topic in state.rooms(withWriter: writer) { await ingestAvailable(topic, writer: writer, group: &group) }
            for topic in state.rooms.keys where state.rooms[topic]?.ownWriter == writer && state.rooms[topic]?.recovering != nil {
                if let log = logs[writer] { await checkRecovery(of: log, in: topic, group: &group) }
            }
        }
        if catalogueChanged { saveCatalogue() }
    }

    private func handleRequest(_ request: GatewayRequest, person: [UInt8], group: inout DiscardingTaskGroup) async {
        let now = Date()
        guard state.people[person] != nil else {
            // Requests of a person are posted after the person (`addPerson`): this one names nobody we speak for.
            logger.error("a request for a person this gateway does not speak for", metadata: ["person": "\(ZBase32.encode(person))"])
            return refuse("this gateway does not speak for you (yet): log in again")
        }
        switch request {
        case .join(let channel, let nick):
            let topic = state.nameRoom(channel, private: nil)
            if let refusal = state.joinRefusal(topic, channel: channel, person: person) {
                return await perform(refusal, group: &group)
            }
            guard await openRoom(channel, kind: .publicRoom, person: person, group: &group) else { return }
            await perform(state.joined(channel: channel, nick: nick, person: person, at: now), group: &group)
            await perform(state.recoveryNoticeOnJoin(topic), group: &group)
        case .joinPrivate(let channel, let nick, let keys):
            // The IRC core passes a key only when no client of ours is in the channel: the user asks for this room, so
            // a room still joined under the name (clients gone, or a restart) is left for it.
            if state.topic(of: channel) != keys.topic {
                guard let leaving = state.leftForAnotherRoom(channel: channel, person: person, at: now) else {
                    let reason = "\(channel) is another room here, which others of this gateway are in: join it as it is"
                    return await perform([.publish(.joinRefused(room: channel, person: person, reason: reason))], group: &group)
                }
                await perform(leaving, group: &group)
            }
            let topic = state.nameRoom(channel, private: keys)
            guard await openRoom(channel, kind: .privateRoom(keys), person: person, group: &group) else { return }
            await perform(state.joined(channel: channel, nick: nick, person: person, at: now), group: &group)
            await perform(state.recoveryNoticeOnJoin(topic), group: &group)
        case .acceptInvite(let channel, let keys):
            _ = state.nameRoom(channel, private: keys)
            _ = await openRoom(channel, kind: .privateRoom(keys), person: person, group: &group)
            await perform([.saveCatalogue], group: &group)
        case .part(let channel, let reason):
            await perform(state.parted(channel: channel, reason: reason, person: person, at: now), group: &group)
        case .say(let channel, let kind, let text, let id, let time):
            let actions = state.said(channel: channel, person: person, kind: kind, text: text, messageID: id, at: time)
            // Nothing to append means nowhere to keep it: the sender must hear so, not see it as sent.
            guard actions.contains(where: { if case .append = $0 { true } else { false } }) else {
                return refuse("\(channel) is not a room this gateway holds")
            }
            await perform(actions, group: &group)
        case .sayDirect(let identity, let kind, let text, let id, let time):
            // Someone this gateway speaks for is reached by their nick here, as a local user (their conversation would be
            // one log for both of them).
            guard state.people[identity] == nil else {
                return refuse("that person uses this gateway too: write to them by their nick here")
            }
            guard await openConversation(with: identity, for: person, group: &group) != nil else {
                return refuse("the conversation's log could not be opened (see the gateway's log)")
            }
            let actions = state.saidDirect(to: identity, from: person, kind: kind, text: text, messageID: id, at: time)
            // Nothing to append means nowhere to keep it: the sender must hear so, not see it as sent.
            guard actions.contains(where: { if case .append = $0 { true } else { false } }) else {
                return refuse("the conversation could not take the line (see the gateway's log)")
            }
            await perform(actions, group: &group)
        case .setTopic(let channel, let text):
            await perform(state.setTopic(channel: channel, text: text, person: person, at: now), group: &group)
        case .rename(let nick):
            await perform(state.renamed(to: nick, person: person, at: now), group: &group)
        }
    }

    /// The request being handled cannot be done: its sender hears why (nothing was stored).
    private func refuse(_ why: String) {
        currentRequest?.add()
        currentRequest?.finish(failure: why)
    }

    /// The name of a person's log of a room in our store: the first person's keeps the room's own log name (as before
    /// a gateway spoke for several people), each other's adds their identity.
    func logName(of topic: RoomTopic, for person: [UInt8]) -> String {
        person == state.identity.publicKey ? topic.logName : topic.logName + "/" + ZBase32.encode(person)
    }

    /// Opens a person's log of a room (creating it on first use) and ingests what it holds: the room is opened with it
    /// when it is not open yet, else it is added to the room's local writers. Returns whether the room is open with
    /// the person's writer.
    private func openRoom(_ channel: String, kind: RoomKind, person: [UInt8], group: inout DiscardingTaskGroup) async -> Bool {
        let topic = kind.privateKeys?.topic ?? state.publicTopic(of: channel)
        if state.rooms[topic]?.locals[person] != nil { return true }
        do {
            let log = try await store.writableLog(name: logName(of: topic, for: person))
            if let file = await log.expectedLengthFileUnreadable {
                logger.warning(
                    "this room log's recorded length could not be read and was ignored (a lost store is now noticed only through peers)",
                    metadata: ["room": "\(channel)", "file": "\(file)"])
            }
            logs[log.key] = log
            if state.rooms[topic] != nil {
                await perform(state.localWriterOpened(topic, person: person, writer: log.key), group: &group)
                await ingestAvailable(topic, writer: log.key, group: &group)
                return true
            }
            state.roomOpened(channel: channel, person: person, ownWriter: log.key, ledger: try await ledger(for: topic), kind: kind)
            await ingestAvailable(topic, writer: log.key, group: &group)
            await checkRecovery(of: log, in: topic, group: &group)
            return true
        } catch {
            logger.error("could not open room log", metadata: ["room": "\(channel)", "error": "\(error)"])
            return false
        }
    }

    /// Opens our log of the direct conversation with a person (creating it on first use), ingests what it holds and
    /// announces it on their connections. Returns its topic; nil when the key is not a person's or the log could not
    /// be opened. `writers`: those saved in the catalogue (restored before it is announced, so what they hold is
    /// history, not news).
    func openConversation(
        with identity: [UInt8], for person: [UInt8], writers: [[UInt8]] = [], group: inout DiscardingTaskGroup
    ) async -> RoomTopic? {
        if let topic = state.conversation(with: identity, for: person) { return topic }
        guard let ours = state.people[person]?.keyPair,
            let keys = try? DirectConversationKeys(ourKeyPair: ours, counterpart: identity),
            let topic = RoomTopic(bytes: keys.topic)
        else { return nil }
        do {
            let log = try await store.writableLog(name: keys.logName)
            logs[log.key] = log
            await perform(
                state.conversationOpened(keys, person: person, ownWriter: log.key, ledger: try await ledger(for: topic)), group: &group)
            await ingestAvailable(topic, writer: log.key, group: &group)
            await perform(state.writersRestored(topic, writers: writers), group: &group)
            await perform(state.conversationReady(topic), group: &group)
            return topic
        } catch {
            logger.error("could not open a direct conversation's log", metadata: ["with": "\(ZBase32.encode(identity))", "error": "\(error)"])
            return nil
        }
    }

    private func restoreRooms(group: inout DiscardingTaskGroup) async {
        let saved: [RoomCatalogue.Room]
        do {
            saved = try catalogue.load()
        } catch {
            logger.error("could not read the room catalogue", metadata: ["file": "\(catalogue.file.path)", "error": "\(error)"])
            return
        }
        for entry in saved {
            if let counterpart = entry.counterpart {
                guard let key = ZBase32.decode(counterpart), key.count == 32 else { continue }
                let writers = entry.writers.compactMap(ZBase32.decode).filter { $0.count == 32 }
                // Whose conversation: absent in files from before several people, when it was the first person's.
                let ours = entry.people.flatMap { $0.keys.first }.flatMap(ZBase32.decode) ?? identity.keyPair.publicKey
                guard state.people[ours] != nil else {
                    logger.warning(
                        "a direct conversation of an account this gateway no longer has is not reopened",
                        metadata: ["person": "\(ZBase32.encode(ours))"])
                    continue
                }
                _ = await openConversation(with: key, for: ours, writers: writers, group: &group)
                continue
            }
            let kind = entry.privateRoot.flatMap(ZBase32.decode).flatMap { $0.count == 32 ? RoomKind.privateRoom(PrivateRoomKeys(root: $0)) : nil }
                ?? .publicRoom
            if entry.privateRoot != nil, kind == .publicRoom { continue }
            let topic = kind.privateKeys?.topic ?? state.publicTopic(of: entry.channel)
            // Our people with a log of the room, and whether each is in it; files from before several people name only
            // the room's `joined`, which was the first person's.
            let locals = RoomCatalogue.locals(of: entry, firstPerson: identity.keyPair.publicKey)
            guard let opener = locals.first else { continue }
            guard await openRoom(entry.channel, kind: kind, person: opener.person, group: &group) else { continue }
            for local in locals.dropFirst() {
                _ = await openRoom(entry.channel, kind: kind, person: local.person, group: &group)
            }
            // A private room our user was in (or had accepted an invite to) holds its name again.
            if entry.joined || entry.named == true, kind.privateKeys != nil { state.privateNames[Self.fold(entry.channel)] = topic }
            if let nicks = entry.nicks {
                state.nickHoldersRestored(topic, holders: nicks.compactMapValues { ZBase32.decode($0) }.filter { $0.value.count == 32 })
            }
            let keys = entry.writers.compactMap(ZBase32.decode).filter { $0.count == 32 }
            await perform(state.writersRestored(topic, writers: keys), group: &group)
            // Someone whose account is gone keeps their log (it is history) but is in no room.
            for local in locals where local.joined && state.people[local.person] != nil {
                await perform(state.restoredJoin(topic, person: local.person), group: &group)
            }
            // A log proves one identity for good: if identity.key was replaced while the store was kept, peers keep
            // showing the old identity for this room and drop our msgids. Say so; it cannot be repaired.
            if let room = state.rooms[topic], let first = room.locals[identity.keyPair.publicKey],
                let proven = room.state.identities[first.writer], proven != identity.keyPair.publicKey
            {
                logger.warning(
                    "this room's log belongs to another identity (identity.key was replaced?): peers will show the old one",
                    metadata: ["room": "\(entry.channel)", "logIdentity": "\(ZBase32.encode(proven))"])
            }
        }
        // What was restored is what the file says.
        catalogueChanged = false
    }
}
