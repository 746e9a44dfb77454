import CompactEncoding
import Foundation
import HyperLog
import IRCServer
import Logging
import SwarmEngine

/// One PearIRC gateway's peer-to-peer side: the rooms the user is in, every writer log of those rooms, and the
/// connections to other gateways that replicate them.
///
/// For each room the user's own lines are appends to a log derived from the room topic; other writers' logs are
/// replicas that accept only verified data. Connections share rooms over `pearirc/room/v1` channels, exchange
/// writer keys (and pass on those learned from others), and replicate every writer over `hypercore/alpha`.
/// Verified entries become `BackendEvent`s for the IRC front end.
public actor Gateway {
    public typealias ConnectionID = UInt64

    struct Room {
        var channel: String
        let topic: RoomTopic
        var state: RoomState
        let ownLog: SignedLog
        var writers: [[UInt8]: SignedLog]
        var joinedLocally: Bool
        /// Remote authors currently shown as members of the IRC channel.
        var present = Set<[UInt8]>()
        /// The writer key each connection said is its own in this room.
        var ownerByConnection: [ConnectionID: [UInt8]] = [:]
    }

    struct Connection {
        let mux: any PeerMux
        var sharedRooms = Set<RoomTopic>()
        /// Rooms whose channel we have opened on this connection (and neither side has closed since). Nothing may be
        /// sent on a room channel before: protomux drops messages on channels this side has not opened.
        var announcedRooms = Set<RoomTopic>()
        /// Replication drivers by discovery key.
        var drivers: [[UInt8]: ReplicationDriver] = [:]
        /// Remote hypercore opens that arrived before we knew the core.
        var pendingOpens: [[UInt8]: ReplicationHandshake] = [:]
        /// Drivers being created (creation suspends; a second start for the same core must not slip in).
        var starting = Set<[UInt8]>()
        /// Room opens from the peer for rooms our user has not joined (yet); paired when they do, as protomux
        /// pairs a remote open with a later local one.
        var pendingRoomOpens: [RoomTopic: [UInt8]] = [:]
        /// Per room: `writers` messages from the peer that taught us nothing new. Honest gossip repeats itself
        /// only when two peers announce the same writer at once; a stream of stale lists is a flood.
        var staleWriterLists: [RoomTopic: Int] = [:]
    }

    /// Most writers a room may have: each is a log on disk replicated on every connection, so a peer must not be
    /// able to grow the set without bound.
    public static let maximumWritersPerRoom = 1024
    /// Most `writers` messages per room and connection that add no new writer before the peer is dropped.
    public static let maximumStaleWriterLists = 64
    /// Most room opens per connection kept unanswered for rooms not joined here; further ones are rejected.
    public static let maximumPendingRoomOpens = 1024

    public nonisolated let events: AsyncStream<BackendEvent>
    private let continuation: AsyncStream<BackendEvent>.Continuation
    let store: LogStore
    public nonisolated let identity: Identity
    let logger: Logger
    private let roomsFile: URL
    var rooms: [RoomTopic: Room] = [:]
    var connections: [ConnectionID: Connection] = [:]
    private var nextConnectionID: ConnectionID = 1
    private var followed = Set<[UInt8]>()
    private var localNick: String?

    static let fold: @Sendable (String) -> String = { IRCCasemapping.rfc1459.fold($0) }

    public init(directory: DataDirectory, identity: Identity, logger: Logger) throws {
        store = try LogStore(directory: directory.file("store"))
        self.identity = identity
        self.logger = logger
        roomsFile = directory.file("rooms.json")
        (events, continuation) = AsyncStream.makeStream()
    }

    /// Reopens the rooms remembered from earlier runs (and replays their logs), so they are announced and
    /// replicated even before an IRC client joins.
    public func restoreRooms() async {
        guard let data = try? Data(contentsOf: roomsFile),
            let saved = try? JSONDecoder().decode([SavedRoom].self, from: data)
        else { return }
        for entry in saved {
            do {
                _ = try await openRoom(entry.channel)
                let keys = entry.writers.compactMap(ZBase32.decode).filter { $0.count == 32 }
                await addWriters(keys, to: RoomTopic(foldedChannelName: Self.fold(entry.channel)), from: nil)
                let topic = RoomTopic(foldedChannelName: Self.fold(entry.channel))
                rooms[topic]?.joinedLocally = entry.joined
                // A log proves one identity for good: if identity.key was replaced while the store was kept, peers
                // keep showing the old identity for this room and drop our msgids. Say so; it cannot be repaired.
                if let room = rooms[topic], let proven = room.state.identities[room.ownLog.key],
                    proven != identity.keyPair.publicKey
                {
                    logger.warning(
                        "this room's log belongs to another identity (identity.key was replaced?): peers will show the old one",
                        metadata: ["room": "\(entry.channel)", "logIdentity": "\(ZBase32.encode(proven))"])
                }
            } catch {
                logger.error("could not restore room", metadata: ["room": "\(entry.channel)", "error": "\(error)"])
            }
        }
    }

    struct SavedRoom: Codable {
        var channel: String
        var joined: Bool
        var writers: [String]
    }

    func saveRooms() {
        let saved = rooms.values.sorted { $0.channel < $1.channel }.map { room in
            SavedRoom(channel: room.channel, joined: room.joinedLocally, writers: room.writers.keys.map(ZBase32.encode).sorted())
        }
        do {
            let data = try JSONEncoder().encode(saved)
            try data.write(to: roomsFile, options: .atomic)
        } catch {
            logger.error("could not save rooms", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Rooms and local lines

    /// The room of a channel, created (with the user's log for it) and replayed from storage on first use.
    func openRoom(_ channel: String) async throws -> RoomTopic {
        let topic = RoomTopic(foldedChannelName: Self.fold(channel))
        if rooms[topic] != nil { return topic }
        let log = try store.writableLog(name: topic.logName)
        var state = RoomState(topic: topic, localWriter: log.key, fold: Self.fold)
        if let localNick { state.setLocalNick(localNick) }
        rooms[topic] = Room(channel: channel, topic: topic, state: state, ownLog: log, writers: [log.key: log], joinedLocally: false)
        await ingestAvailable(topic: topic, writer: log.key)
        return topic
    }

    /// Appends a local line to the user's log of the room and ingests it back.
    func appendLocal(_ topic: RoomTopic, kind: RoomEntry.Kind, text: String, at time: Date, messageID: String? = nil) async {
        guard let room = rooms[topic] else { return }
        let entry = room.state.composeLocal(
            kind: kind, text: text, timestamp: UInt64(max(0, time.timeIntervalSince1970 * 1000)), messageID: messageID)
        do {
            let length = try await room.ownLog.append([entry.encoded()])
            _ = rooms[topic]?.state.ingest(author: room.ownLog.key, index: length - 1, block: entry.encoded())
        } catch {
            logger.error("could not append to room log", metadata: ["room": "\(room.channel)", "error": "\(error)"])
        }
    }

    public func handle(_ request: BackendRequest) async {
        let now = Date()
        switch request {
        case .joined(let channel, let nick):
            setLocalNick(nick)
            guard let topic = try? await openRoom(channel), var room = rooms[topic] else { return }
            room.channel = channel
            let wasJoined = room.joinedLocally
            room.joinedLocally = true
            rooms[topic] = room
            if room.state.identities[room.ownLog.key] == nil {
                // First words in this room's log: whose log it is, so peers show us as one person in every room.
                let proof = WriterIdentity.entryText(identity: identity.keyPair, topic: topic, writer: room.ownLog.key)
                await appendLocal(topic, kind: .identity, text: proof, at: now)
            }
            let lastNick = room.state.history.lines.last { $0.position.author == room.ownLog.key && $0.entry.kind == .nick }
            if lastNick?.entry.text != nick { await appendLocal(topic, kind: .nick, text: nick, at: now) }
            await appendLocal(topic, kind: .join, text: "", at: now)
            saveRooms()
            if !wasJoined { for id in connections.keys { await announceRoom(topic, on: id) } }
            // Show the room's current remote members to the IRC side.
            for author in (rooms[topic]?.present ?? []).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                if let user = remoteUser(author, in: topic) {
                    continuation.yield(.remoteJoined(channel: channel, user: user))
                }
            }
        case .parted(let channel, _, let reason):
            let topic = RoomTopic(foldedChannelName: Self.fold(channel))
            guard rooms[topic] != nil else { return }
            await appendLocal(topic, kind: .part, text: reason, at: now)
            rooms[topic]?.joinedLocally = false
            saveRooms()
            // Stop announcing; the history stays in the store.
            for (id, connection) in connections where connection.announcedRooms.contains(topic) {
                connection.mux.close(protocol: RoomWire.protocolName, id: topic.bytes)
                connections[id]?.sharedRooms.remove(topic)
                connections[id]?.announcedRooms.remove(topic)
            }
        case .message(let channel, _, let kind, let text, let id, let time):
            let topic = RoomTopic(foldedChannelName: Self.fold(channel))
            guard rooms[topic] != nil else { return }
            // The IRC core's msgid travels in the entry, so the echo, our history and every other gateway agree.
            if let action = Self.action(text) {
                await appendLocal(topic, kind: .action, text: action, at: time, messageID: id)
            } else {
                await appendLocal(topic, kind: kind == .notice ? .notice : .message, text: text, at: time, messageID: id)
            }
        case .topic(let channel, _, let topic):
            let room = RoomTopic(foldedChannelName: Self.fold(channel))
            guard rooms[room] != nil else { return }
            await appendLocal(room, kind: .topic, text: topic, at: now)
        case .nickChanged(_, let new):
            setLocalNick(new)
            for topic in rooms.keys where rooms[topic]?.joinedLocally == true {
                await appendLocal(topic, kind: .nick, text: new, at: now)
            }
        case .quit:
            break
        case .directMessage:
            // Private messages are not carried between gateways yet, so there is nothing to file.
            break
        }
    }

    private func setLocalNick(_ nick: String) {
        localNick = nick
        for topic in rooms.keys { rooms[topic]?.state.setLocalNick(nick) }
    }

    /// The channel's history in the order every gateway agrees on, as IRC lines.
    public func history(_ query: HistoryQuery) async -> [ChatLine] {
        // Only channels are rooms; a private conversation key must never open a room log.
        guard !PrivateConversation.isConversation(query.channel),
            let topic = try? await openRoom(query.channel), let room = rooms[topic]
        else { return [] }
        let lines = room.state.history.lines.compactMap { line -> ChatLine? in
            let text: String
            let kind: ChatLineKind
            switch line.entry.kind {
            case .message: (text, kind) = (line.entry.text, .privmsg)
            case .action: (text, kind) = ("\u{1}ACTION \(line.entry.text)\u{1}", .privmsg)
            case .notice: (text, kind) = (line.entry.text, .notice)
            default: return nil
            }
            let author = line.position.author
            let user = author == room.ownLog.key ? "~pear" : "pear"
            let source = "\(room.state.displayNick(for: author))!\(user)@\(NickDirectory.host(for: room.state.identities[author] ?? author))"
            return ChatLine(
                id: Self.messageID(line), time: Date(timeIntervalSince1970: Double(line.entry.timestamp) / 1000),
                channel: query.channel, source: source, kind: kind, text: Self.sanitised(text))
        }
        return HistoryWindow.select(query, from: lines)
    }

    // MARK: - Peers

    /// Takes over a new connection: announces our rooms on it and handles what it sends until it ends.
    @discardableResult
    public func attach(_ mux: any PeerMux, events: AsyncStream<PeerEvent>) -> ConnectionID {
        let id = nextConnectionID
        nextConnectionID += 1
        connections[id] = Connection(mux: mux)
        logger.info("peer connected", metadata: ["peer": "\(mux.label)", "key": "\(ZBase32.encode(mux.remotePublicKey))"])
        let joined = rooms.filter { $0.value.joinedLocally }.map(\.key)
        Task { [weak self] in
            for topic in joined { await self?.announceRoom(topic, on: id) }
            for await event in events {
                guard let self else { return }
                await self.peerEvent(event, on: id)
            }
            await self?.peerEvent(.disconnected, on: id)
        }
        return id
    }

    /// When the room of `channel` last had a line (the newest author timestamp among its lines), for TARGETS.
    public func latestLineTime(channel: String) -> Date? {
        guard !PrivateConversation.isConversation(channel),
            let timestamp = rooms[RoomTopic(foldedChannelName: Self.fold(channel))]?.state.latestLineTimestamp
        else { return nil }
        return Date(timeIntervalSince1970: Double(timestamp) / 1000)
    }

    /// This gateway's own writer key for a room it has opened (tests, diagnostics).
    public func ownWriter(channel: String) -> [UInt8]? {
        rooms[RoomTopic(foldedChannelName: Self.fold(channel))]?.ownLog.key
    }

    /// How many writer logs the room of `channel` has (ours included); nil when it is not a room we know.
    public func writerCount(channel: String) -> Int? {
        rooms[RoomTopic(foldedChannelName: Self.fold(channel))]?.writers.count
    }

    /// Labels of the connected peers (for `/msg PearServ peers`).
    public var peerLabels: [String] {
        connections.keys.sorted().compactMap { id in
            connections[id].map { "\($0.mux.label) \(ZBase32.encode($0.mux.remotePublicKey).prefix(12))… rooms=\($0.sharedRooms.count)" }
        }
    }

    /// Opens our side of a joined room's channel on a connection (once), then answers the peer's open if one is
    /// waiting: the only way a room channel gets answered, so nothing is ever sent on a channel we have not opened.
    func announceRoom(_ topic: RoomTopic, on id: ConnectionID) async {
        // Announcements are queued (a new connection announces the rooms joined when it arrived): the user may
        // have parted since, and a room we are not in is never opened.
        guard let connection = connections[id], let room = rooms[topic], room.joinedLocally else { return }
        if connections[id]?.announcedRooms.insert(topic).inserted == true {
            connection.mux.open(
                protocol: RoomWire.protocolName, id: topic.bytes,
                handshake: RoomWire.Hello(ownWriter: room.ownLog.key).compactEncoded())
        }
        if let handshake = connections[id]?.pendingRoomOpens.removeValue(forKey: topic) {
            await roomOpened(topic, handshake: handshake, on: id)
        }
    }

    /// Both sides have opened the room channel: share writers and replicate them.
    func roomOpened(_ topic: RoomTopic, handshake: [UInt8], on id: ConnectionID) async {
        guard let room = rooms[topic], room.joinedLocally, connections[id] != nil else { return }
        guard let hello = try? RoomWire.Hello(compactEncoded: handshake) else {
            return misbehaved(id, "malformed room handshake")
        }
        connections[id]?.sharedRooms.insert(topic)
        rooms[topic]?.ownerByConnection[id] = hello.ownWriter
        send(RoomWire.Writers(keys: Array(room.writers.keys)), room: topic, on: id)
        for key in room.writers.keys { await startReplication(of: key, on: id) }
        await addWriters([hello.ownWriter], to: topic, from: id)
    }

    func peerEvent(_ event: PeerEvent, on id: ConnectionID) async {
        guard let connection = connections[id] else { return }
        switch event {
        case .opened(RoomWire.protocolName, let bytes, let handshake):
            guard let topic = RoomTopic(bytes: bytes) else {
                return connection.mux.reject(protocol: RoomWire.protocolName, id: bytes)
            }
            guard rooms[topic]?.joinedLocally == true else {
                // Not (yet) our room: remember the open without answering, so nothing leaks about our rooms. Past
                // the limit it is refused, so the peer's side does not wait on it forever.
                guard connection.pendingRoomOpens.count < Self.maximumPendingRoomOpens else {
                    return connection.mux.reject(protocol: RoomWire.protocolName, id: bytes)
                }
                connections[id]?.pendingRoomOpens[topic] = handshake
                return
            }
            // Joined. Our side of the channel may not be open yet (the join is still being recorded, or the peer
            // reopened a channel that closed because its user parted and came back): announcing opens it if need
            // be, then answers this open; answering first would send our writers on a channel that is not there.
            connections[id]?.pendingRoomOpens[topic] = handshake
            await announceRoom(topic, on: id)
        case .message(RoomWire.protocolName, let bytes, RoomWire.Writers.type, let message):
            guard let topic = RoomTopic(bytes: bytes), connection.sharedRooms.contains(topic) else { return }
            guard let writers = try? RoomWire.Writers(compactEncoded: message) else {
                return misbehaved(id, "malformed room message")
            }
            let known = rooms[topic]?.writers.count ?? 0
            await addWriters(writers.keys, to: topic, from: id)
            if rooms[topic]?.writers.count ?? 0 == known {
                let stale = (connections[id]?.staleWriterLists[topic] ?? 0) + 1
                connections[id]?.staleWriterLists[topic] = stale
                if stale > Self.maximumStaleWriterLists { misbehaved(id, "flood of room writer lists") }
            }
        case .closed(RoomWire.protocolName, let bytes):
            if let topic = RoomTopic(bytes: bytes) {
                // Closed by the peer, or our open refused: closed on both sides, so announcing starts over.
                connections[id]?.sharedRooms.remove(topic)
                connections[id]?.announcedRooms.remove(topic)
                connections[id]?.pendingRoomOpens.removeValue(forKey: topic)
            }
        case .opened(ReplicationMessage.protocolName, let discoveryKey, let handshake):
            guard let remote = try? ReplicationHandshake(compactEncoded: handshake) else {
                return misbehaved(id, "malformed replication handshake")
            }
            if let driver = connection.drivers[discoveryKey] {
                await driver.remoteOpened(remote)
                // Messages that came in while it was opening are processed there, and may break the protocol.
                if let reason = await driver.closeReason { misbehaved(id, "replication: \(reason)") }
            } else {
                connections[id]?.pendingOpens[discoveryKey] = remote
            }
        case .message(ReplicationMessage.protocolName, let discoveryKey, let type, let message):
            guard let driver = connection.drivers[discoveryKey] else { return }
            guard let decoded = try? ReplicationMessage(type: type, bytes: message) else {
                return misbehaved(id, "malformed replication message")
            }
            await driver.receive([decoded])
            if let reason = await driver.closeReason { misbehaved(id, "replication: \(reason)") }
        case .disconnected:
            await dropConnection(id)
        case .opened(let name, let channelID, _):
            // A protocol we do not speak: refused at once, as a Node peer's protomux does without a pair handler.
            connection.mux.reject(protocol: name, id: channelID)
        default:
            break
        }
    }

    func send(_ writers: RoomWire.Writers, room topic: RoomTopic, on id: ConnectionID) {
        connections[id]?.mux.send(
            protocol: RoomWire.protocolName, id: topic.bytes, type: RoomWire.Writers.type, message: writers.compactEncoded())
    }

    /// A peer broke the rules: log it and hang up. Nothing it sent unverified was stored.
    func misbehaved(_ id: ConnectionID, _ reason: String) {
        guard let connection = connections[id] else { return }
        logger.warning("disconnecting peer", metadata: ["peer": "\(connection.mux.label)", "reason": "\(reason)"])
        connection.mux.disconnect()
    }

    func dropConnection(_ id: ConnectionID) async {
        guard let connection = connections.removeValue(forKey: id) else { return }
        for driver in connection.drivers.values { await driver.stop() }
        logger.info("peer disconnected", metadata: ["peer": "\(connection.mux.label)"])
        // The peer's own author leaves the rooms it was in — only when its log proved it is this peer's identity
        // (a peer may claim any writer key in its hello), and room by room: the person may still be in other rooms
        // through other gateways, and the IRC side turns the last part into a quit.
        for topic in rooms.keys {
            guard let owner = rooms[topic]?.ownerByConnection.removeValue(forKey: id),
                let room = rooms[topic], room.state.identities[owner] == connection.mux.remotePublicKey,
                rooms[topic]?.present.remove(owner) != nil
            else { continue }
            continuation.yield(
                .remoteParted(channel: room.channel, userID: userID(for: owner, in: topic), reason: "Connection gone"))
        }
    }

    /// Learns writer keys for a room: opens replicas, replicates them on every connection sharing the room, and
    /// passes them on to the other connections.
    func addWriters(_ keys: [[UInt8]], to topic: RoomTopic, from origin: ConnectionID?) async {
        guard rooms[topic] != nil else { return }
        var fresh: [[UInt8]] = []
        for key in keys where key.count == 32 && rooms[topic]?.writers[key] == nil {
            guard rooms[topic]?.writers.count ?? 0 < Self.maximumWritersPerRoom else {
                if let origin { misbehaved(origin, "more than \(Self.maximumWritersPerRoom) writers in a room") }
                break
            }
            do {
                let log = try store.replica(key: key)
                rooms[topic]?.writers[key] = log
                fresh.append(key)
                await follow(log, topic: topic)
                await ingestAvailable(topic: topic, writer: key)
            } catch {
                logger.warning("could not open writer log", metadata: ["error": "\(error)"])
            }
        }
        guard !fresh.isEmpty else { return }
        saveRooms()
        for (id, connection) in connections where connection.sharedRooms.contains(topic) {
            for key in fresh { await startReplication(of: key, on: id) }
            if id != origin { send(RoomWire.Writers(keys: fresh), room: topic, on: id) }
        }
    }

    func startReplication(of key: [UInt8], on id: ConnectionID) async {
        guard let connection = connections[id], let discoveryKey = try? DiscoveryKey.of(key),
            connection.drivers[discoveryKey] == nil, !connection.starting.contains(discoveryKey),
            let log = rooms.values.lazy.compactMap({ $0.writers[key] }).first
        else { return }
        let mux = connection.mux
        connections[id]?.starting.insert(discoveryKey)
        defer { connections[id]?.starting.remove(discoveryKey) }
        do {
            let driver = try await ReplicationDriver(
                log: log, handshakeHash: mux.handshakeHash, isInitiator: mux.isInitiator
            ) { messages in
                for message in messages {
                    mux.send(protocol: ReplicationMessage.protocolName, id: discoveryKey, type: message.type, message: message.encoded())
                }
            }
            connections[id]?.drivers[discoveryKey] = driver
            mux.open(protocol: ReplicationMessage.protocolName, id: discoveryKey, handshake: driver.handshake.compactEncoded())
            if let pending = connections[id]?.pendingOpens.removeValue(forKey: discoveryKey) {
                await driver.remoteOpened(pending)
                if let reason = await driver.closeReason { misbehaved(id, "replication: \(reason)") }
            }
        } catch {
            logger.error("could not start replication", metadata: ["error": "\(error)"])
        }
    }

    /// Follows a writer log: whatever verified data arrives is ingested into the room. The subscription is made
    /// before this returns, so no event published after it (e.g. by a replication started next) is missed.
    func follow(_ log: SignedLog, topic: RoomTopic) async {
        guard followed.insert(log.key).inserted else { return }
        let events = await log.events()
        Task { [weak self] in
            for await _ in events {
                guard let self else { return }
                await self.ingestAvailable(topic: topic, writer: log.key)
            }
        }
    }

    /// Ingests the writer's blocks from where the room stopped up to what is stored contiguously, and tells the
    /// IRC side about remote ones.
    func ingestAvailable(topic: RoomTopic, writer: [UInt8]) async {
        guard let room = rooms[topic], let log = room.writers[writer] else { return }
        let available = await log.contiguousLength
        var index = room.state.writerLengths[writer] ?? 0
        while index < available {
            guard let block = try? await log.get(index) else { break }
            let events = rooms[topic]?.state.ingest(author: writer, index: index, block: block) ?? []
            if writer != room.ownLog.key { publish(events, author: writer, topic: topic) }
            index += 1
        }
    }

    /// Turns room events about a remote author into IRC backend events (only for rooms the user is in).
    func publish(_ events: [RoomState.Event], author: [UInt8], topic: RoomTopic) {
        guard let room = rooms[topic], room.joinedLocally else { return }
        let userID = userID(for: author, in: topic)
        func ensurePresent() {
            guard rooms[topic]?.present.insert(author).inserted == true, let user = remoteUser(author, in: topic) else { return }
            continuation.yield(.remoteJoined(channel: room.channel, user: user))
        }
        for event in events {
            switch event {
            case .line(let line):
                ensurePresent()
                let kind: ChatLineKind = line.entry.kind == .notice ? .notice : .privmsg
                let time = Date(timeIntervalSince1970: Double(line.entry.timestamp) / 1000)
                // A long line becomes several IRC lines (the first keeps the entry's msgid).
                for (part, piece) in Self.ircLines(Self.cleaned(line.entry.text)).enumerated() {
                    let text = line.entry.kind == .action ? "\u{1}ACTION \(piece)\u{1}" : piece
                    let id = part == 0 ? Self.messageID(line) : "\(Self.messageID(line)).\(part)"
                    continuation.yield(
                        .remoteMessage(channel: room.channel, userID: userID, kind: kind, text: text, id: id, time: time))
                }
            case .joined:
                ensurePresent()
            case .nickChanged(let changed, _, let to):
                guard changed != room.ownLog.key else { continue }
                if rooms[topic]?.present.contains(changed) == true {
                    continuation.yield(.remoteNick(userID: self.userID(for: changed, in: topic), newNick: to))
                } else if changed == author {
                    ensurePresent()
                }
            case .parted(let who, let reason):
                if rooms[topic]?.present.remove(who) != nil {
                    continuation.yield(
                        .remoteParted(channel: room.channel, userID: self.userID(for: who, in: topic), reason: Self.sanitised(reason)))
                }
            case .topicChanged(let who, let text):
                ensurePresent()
                continuation.yield(
                    .remoteTopic(channel: room.channel, userID: self.userID(for: who, in: topic), topic: Self.sanitised(text)))
            case .identified(let who, _):
                // Shown before its proof arrived (a log from an older version): it was a user named by its writer
                // key; now it is its person's user.
                guard rooms[topic]?.present.contains(who) == true, let user = remoteUser(who, in: topic) else { continue }
                continuation.yield(.remoteParted(channel: room.channel, userID: ZBase32.encode(who), reason: "Identified"))
                continuation.yield(.remoteJoined(channel: room.channel, user: user))
            case .skipped:
                break
            }
        }
    }

    /// Who an author is on the IRC side: their identity once their log proved it (so one person is one user in
    /// every room), else the writer key itself.
    func userID(for author: [UInt8], in topic: RoomTopic) -> String {
        ZBase32.encode(rooms[topic]?.state.identities[author] ?? author)
    }

    func remoteUser(_ author: [UInt8], in topic: RoomTopic) -> RemoteUser? {
        guard let room = rooms[topic] else { return nil }
        let key = ZBase32.encode(author)
        let identity = room.state.identities[author]
        var whois = ["writes to \(room.channel) with key \(key)"]
        if let identity { whois.insert("identity \(ZBase32.encode(identity))", at: 0) }
        return RemoteUser(
            id: userID(for: author, in: topic), nick: room.state.displayNick(for: author), user: "pear",
            host: NickDirectory.host(for: identity ?? author), realName: "PearIRC peer", whoisInfo: whois)
    }

    // MARK: - Text helpers

    /// A line's msgid: the one its author's gateway recorded in the entry, else one every gateway derives the
    /// same way (the author's key prefix and the entry's index).
    static func messageID(_ line: RoomHistory.Line) -> String {
        line.entry.messageID ?? "\(ZBase32.encode(line.position.author).prefix(12))-\(line.position.index)"
    }

    /// The text of a CTCP ACTION (`/me`), or nil.
    static func action(_ text: String) -> String? {
        guard text.hasPrefix("\u{1}ACTION "), text.count > 8 else { return nil }
        var body = text.dropFirst(8)
        if body.hasSuffix("\u{1}") { body = body.dropLast() }
        return String(body)
    }

    /// Remote text is untrusted: no CR, LF or NUL may reach an IRC line.
    static func cleaned(_ text: String) -> String {
        String(text.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "\r", "\n", "\0": " "
            default: Character(scalar)
            }
        })
    }

    /// Text cleaned and capped to fit one IRC line (topics, part reasons).
    static func sanitised(_ text: String) -> String {
        ircLines(cleaned(text)).first ?? ""
    }

    /// Splits text into pieces of at most `limit` UTF-8 bytes, on character boundaries (preferring spaces), so
    /// each fits an IRC line (512 bytes with the prefix, command and channel around it).
    static func ircLines(_ text: String, limit: Int = 400) -> [String] {
        guard text.utf8.count > limit else { return [text] }
        var pieces: [String] = []
        var current = ""
        var currentBytes = 0
        for character in text {
            let size = character.utf8.count
            if currentBytes + size > limit {
                // Break at the last space when there is one in the second half, else mid-word.
                if let space = current.lastIndex(of: " "), current.utf8.distance(from: current.startIndex.samePosition(in: current.utf8) ?? current.utf8.startIndex, to: space.samePosition(in: current.utf8) ?? current.utf8.endIndex) > limit / 2 {
                    let head = String(current[..<space]), tail = String(current[current.index(after: space)...])
                    pieces.append(head)
                    current = tail
                    currentBytes = tail.utf8.count
                } else {
                    pieces.append(current)
                    current = ""
                    currentBytes = 0
                }
            }
            current.append(character)
            currentBytes += size
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}
