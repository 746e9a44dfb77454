import Foundation
import HyperLog
import Sodium
import SwarmEngine

/// The whole peer-to-peer side of a gateway as a value: rooms, their writers and members, and the room protocol
/// with every connected peer. Inputs are what happened (our user joined, blocks were read, a peer opened a
/// channel); outputs are `GatewayAction`s for the `Gateway` shell to perform (append, open a replica, send on a
/// channel, publish a room event). No I/O, no clock (times come with the inputs), no tasks: every rule of the
/// gateway can be tested by feeding it inputs.
///
/// Composed of small parts with their own tests: `RoomRecord` (one room: `RoomState`, `RoomWriters`,
/// `RoomPresence`) and, per connection, `PeerRecord` with a `RoomChannel` per room.
struct GatewayState: Sendable {
    typealias ConnectionID = UInt64

    /// Limits a peer cannot push past.
    struct Limits: Sendable {
        /// Most writers a room admits (the default admission rule).
        var writersPerRoom = 1024
        /// Most `writers` messages per room and connection that add no new writer before the peer is dropped.
        var staleWriterLists = 64
        /// Most room opens per connection kept unanswered for rooms not joined here; further ones are refused.
        var pendingRoomOpens = 1024
        /// Most `hypercore/alpha` opens per connection kept for cores not (yet) replicated here.
        var pendingReplicationOpens = 1024
    }

    /// One connected peer, as the room protocol sees it.
    struct PeerRecord: Sendable {
        let remoteKey: [UInt8]
        /// The connection's Noise handshake hash (both ends share it) and whether we dialled: what private rooms'
        /// channel ids and proofs are bound to.
        var handshakeHash: [UInt8] = []
        var isInitiator = false
        var rooms: [RoomTopic: RoomChannel] = [:]
        /// Writers whose replication was started on this connection.
        var replicating = Set<[UInt8]>()
        /// The peer's `hypercore/alpha` opens for cores not replicated here yet, by discovery key.
        var pendingReplicationOpens: [[UInt8]: ReplicationHandshake] = [:]
        /// The blind relay the peer offers (`pearirc/relay/v1`), if it does.
        var relayOffer: [UInt8]?
        /// The people the peer proved it speaks for on this connection (`PeopleWire`); empty until its hello came, and
        /// for peers that do not speak it.
        var people = Set<[UInt8]>()
        var peopleProven = false
        /// The topic of each conversation between one of our people and a person proven here, worked out once when
        /// they were proven (a key exchange each), so a peer's conversation opens cost a look-up, however many it sends.
        var conversationTopics: [[UInt8]: Conversation] = [:]

        /// Whether this connection reaches `identity` (a person proven on it, never merely the transport key).
        func hosts(_ identity: [UInt8]) -> Bool { people.contains(identity) }

        var pendingRoomOpens: Int {
            rooms.values.count { if case .requested = $0.state { true } else { false } }
        }
    }

    /// A person this gateway speaks for (an account; the one person of a gateway without accounts).
    struct LocalPerson: Sendable {
        let keyPair: Ed25519.KeyPair
        /// The nick of their most recently registered or renamed client.
        var nick: String?
    }

    /// A direct conversation: one of our people and another person, by identity keys.
    struct Conversation: Hashable, Sendable {
        let ours: [UInt8]
        let theirs: [UInt8]
    }

    /// The gateway's first person (`identity.key`): their room logs keep the names they had before a gateway spoke
    /// for several people, and a request that names nobody is theirs.
    let identity: Ed25519.KeyPair
    let limits: Limits
    let admission: any WriterAdmissionRule
    let fold: @Sendable (String) -> String
    // Settable in the module only for this value's own extensions (`GatewayState+Peers.swift`,
    // `GatewayState+Recovery.swift`); the shell reads them.
    var rooms: [RoomTopic: RoomRecord] = [:]
    var peers: [ConnectionID: PeerRecord] = [:]
    /// The people this gateway speaks for, by identity key; nicks set only through `setLocalNick`
    /// (`GatewayState+User.swift`), which passes them on to every room.
    var people: [[UInt8]: LocalPerson] = [:]
    /// The blind relay this gateway offers its peers (when it is reachable and relaying is on).
    var ownRelayOffer: [UInt8]?
    /// Every known writer by its discovery key (what `hypercore/alpha` channels are named by).
    var writerByDiscoveryKey: [[UInt8]: [UInt8]] = [:]
    /// Direct conversations of our people (their room records are in `rooms`, by topic).
    var conversations: [Conversation: RoomTopic] = [:]
    /// Most conversations held with no line in them yet; a peer's open for another is refused.
    static let silentConversationLimit = 64
    /// Whether a conversation is refused (our person in it ignores the other): its channel is not opened.
    var refusesDirectMessages: @Sendable (Conversation) -> Bool = { _ in false }

    init(
        identity: Ed25519.KeyPair, limits: Limits = Limits(), admission: (any WriterAdmissionRule)? = nil,
        fold: @escaping @Sendable (String) -> String
    ) {
        self.identity = identity
        people[identity.publicKey] = LocalPerson(keyPair: identity)
        self.limits = limits
        self.admission = admission ?? CappedWriterAdmission(maximum: limits.writersPerRoom)
        self.fold = fold
    }

    /// Private rooms by the folded channel name they are shown under: joined with a key (or an invite), or accepted
    /// and not yet entered. A channel name means one room at a time on a gateway (`nameRoom`).
    var privateNames: [String: RoomTopic] = [:]

    /// The room a channel name means here: its private room while one is named, else the public room of that name.
    func topic(of channel: String) -> RoomTopic { privateNames[fold(channel)] ?? publicTopic(of: channel) }

    func publicTopic(of channel: String) -> RoomTopic { RoomTopic(foldedChannelName: fold(channel)) }

    /// Which room a channel name is to mean from now on, as our user joins it: the room joined under that name now, if
    /// any (a second client joining the channel enters it as it is: the key only counts when the channel starts
    /// here); else the private room of `keys`; else (a join without a key) the private room named for it (an accepted
    /// invite) or the public room.
    mutating func nameRoom(_ channel: String, private keys: PrivateRoomKeys?) -> RoomTopic {
        let current = topic(of: channel)
        if rooms[current]?.joined == true { return current }
        guard let keys else { return current }
        privateNames[fold(channel)] = keys.topic
        return keys.topic
    }

    // MARK: - Rooms

    /// The shell opened our log of a room (first use, or at start from the catalogue). Its blocks follow as
    /// `blocksRead`.
    /// `ledger` keeps the room's history (in memory when nil); what it holds of an earlier run is read back, and the
    /// logs are read on from where it stopped.
    /// `person` (nil: the first person) is whose writer `ownWriter` is.
    mutating func roomOpened(
        channel: String, person: [UInt8]? = nil, ownWriter: [UInt8], ledger: (any RoomLedger)? = nil, kind: RoomKind = .publicRoom
    ) {
        let topic = kind.privateKeys?.topic ?? publicTopic(of: channel)
        guard rooms[topic] == nil else { return }
        let person = person ?? identity.publicKey
        var room = RoomRecord(
            channel: channel, topic: topic, kind: kind, person: person, ownWriter: ownWriter, rule: admission, fold: fold,
            ledger: ledger ?? MemoryRoomLedger())
        if let nick = people[person]?.nick { room.state.setLocalNick(nick, for: ownWriter) }
        rooms[topic] = room
        if let key = try? DiscoveryKey.of(ownWriter) { writerByDiscoveryKey[key] = ownWriter }
    }

    /// The shell opened another of our people's log of an open room (their first join of it, or at start). Their
    /// writer is one of ours from now on (its lines are not news to our front ends; remote look-alikes of their nick
    /// are told apart), and it is announced and replicated on every connection sharing the room. Call before
    /// `writersRestored`, so a writer list naming it finds it ours.
    mutating func localWriterOpened(_ topic: RoomTopic, person: [UInt8], writer: [UInt8]) -> [GatewayAction] {
        guard var room = rooms[topic], room.locals[person] == nil else { return [] }
        room.locals[person] = RoomRecord.LocalWriter(writer: writer)
        room.state.addLocalWriter(writer)
        if let nick = people[person]?.nick { room.state.setLocalNick(nick, for: writer) }
        let fresh = room.writers.addLocal(writer)
        rooms[topic] = room
        if let key = try? DiscoveryKey.of(writer) { writerByDiscoveryKey[key] = writer }
        guard fresh else { return [] }
        return [.saveCatalogue] + spread([writer], in: topic, except: nil)
    }

    /// A person this gateway speaks for from now on (an account's key pair, at start or at its first login). New, their
    /// person topic is announced (direct messages find them), and a conversation the people proven on connections up
    /// now open with them is taken; connections made from now on prove them (`PeopleWire`; those up already do not:
    /// their hello went once).
    mutating func addPerson(_ keyPair: Ed25519.KeyPair) -> [GatewayAction] {
        guard people[keyPair.publicKey] == nil else { return [] }
        people[keyPair.publicKey] = LocalPerson(keyPair: keyPair)
        for id in peers.keys {
            for theirs in peers[id]?.people ?? [] {
                if let keys = try? DirectConversationKeys(ourKeyPair: keyPair, counterpart: theirs) {
                    peers[id]?.conversationTopics[keys.topic] = Conversation(ours: keyPair.publicKey, theirs: theirs)
                }
            }
        }
        return [.announcePerson(keyPair.publicKey)]
    }

    /// The nick a person we speak for goes by (their most recently registered or renamed client).
    func nick(ofPerson person: [UInt8]? = nil) -> String? { people[person ?? identity.publicKey]?.nick }

    /// The shell opened our log of a direct conversation (first message either way, or at start from the catalogue):
    /// it is open at once (there is nothing to join), looked for on the DHT, and announced on the other person's
    /// connections, answering an open that waits. Its blocks follow as `blocksRead`.
    mutating func conversationOpened(
        _ keys: DirectConversationKeys, person: [UInt8]? = nil, ownWriter: [UInt8], ledger: (any RoomLedger)? = nil
    ) -> [GatewayAction] {
        guard let topic = RoomTopic(bytes: keys.topic), rooms[topic] == nil else { return [] }
        let person = person ?? identity.publicKey
        var room = RoomRecord(
            channel: Self.conversationName(keys.counterpart), topic: topic, kind: .direct(keys), person: person,
            ownWriter: ownWriter, rule: CappedWriterAdmission(maximum: RoomKind.directWriters), fold: fold,
            ledger: ledger ?? MemoryRoomLedger())
        if let nick = people[person]?.nick { room.state.setLocalNick(nick, for: ownWriter) }
        rooms[topic] = room
        conversations[Conversation(ours: person, theirs: keys.counterpart)] = topic
        if let key = try? DiscoveryKey.of(ownWriter) { writerByDiscoveryKey[key] = ownWriter }
        return [.saveCatalogue]
    }

    /// A direct conversation is open for lines: announced (on the other person's connections) and looked for. Called
    /// after its stored writers are restored, so what was stored is history, not news.
    mutating func conversationReady(_ topic: RoomTopic) -> [GatewayAction] {
        guard rooms[topic]?.kind.isDirect == true, rooms[topic]?.joined == false, let ours = rooms[topic]?.locals.keys.first
        else { return [] }
        rooms[topic]?.locals[ours]?.joined = true
        var actions: [GatewayAction] = [.discover(topic, true)]
        for id in peers.keys.sorted() { actions += announce(topic, on: id) }
        // Our line was the last one written: they may not have it yet, so they are looked for until the channel opens.
        if let room = rooms[topic], let counterpart = room.kind.counterpart, !canReach(counterpart, from: ours),
            history(topic, .latest(limit: 1)).last?.isLocal == true
        {
            actions.append(.seek(counterpart, true))
        }
        return actions
    }

    /// How a direct conversation is named where rooms are named by channel (the catalogue, logs): `=` and the other
    /// person's z-base-32 key (`=` starts no channel name).
    static func conversationName(_ counterpart: [UInt8]) -> String { "=" + ZBase32.encode(counterpart) }

    /// The direct conversation of one of our people (nil: the first) with a person, if one is open.
    func conversation(with identity: [UInt8], for person: [UInt8]? = nil) -> RoomTopic? {
        conversations[Conversation(ours: person ?? self.identity.publicKey, theirs: identity)]
    }

    /// A chat line from one of our people (nil: the first) to another person: our log of the conversation says whose it
    /// is (once), their nick when it changed, then the line.
    mutating func saidDirect(
        to identity: [UInt8], from person: [UInt8]? = nil, kind: RoomLineKind, text: String, messageID: String?, at time: Date
    ) -> [GatewayAction] {
        let ours = person ?? self.identity.publicKey
        guard let topic = conversation(with: identity, for: ours), let room = rooms[topic], let local = room.locals[ours],
            let keyPair = people[ours]?.keyPair
        else { return [] }
        let now = Self.milliseconds(time)
        var lines: [RoomState.LocalLine] = []
        if room.state.identities[local.writer] == nil, !local.identityComposed {
            let proof = WriterIdentity.entryText(identity: keyPair, topic: topic, writer: local.writer)
            lines.append(.init(kind: .identity, text: proof, timestamp: now))
        }
        if let nick = people[ours]?.nick, room.ownNick(of: ours) != nick { lines.append(.init(kind: .nick, text: nick, timestamp: now)) }
        let entryKind: RoomEntry.Kind = switch kind {
        case .message: .message
        case .action: .action
        case .notice: .notice
        }
        lines.append(.init(kind: entryKind, text: text, timestamp: now, messageID: messageID))
        // Not reachable now: their gateway is dialled by key until the conversation's channel opens (they may share
        // no room with us, or not know the conversation yet, so nothing else would bring them).
        let seek: [GatewayAction] = canReach(identity, from: ours) ? [] : [.seek(identity, true)]
        return [.append(topic, writer: local.writer, compose(lines, in: topic, by: ours))] + seek
    }

    /// Whether a connection to the person is up with their conversation with one of our people (nil: the first) shared
    /// (a line can reach them now).
    func canReach(_ identity: [UInt8], from person: [UInt8]? = nil) -> Bool {
        guard let topic = conversation(with: identity, for: person) else { return false }
        return peers.values.contains { $0.hosts(identity) && $0.rooms[topic]?.isShared == true }
    }

    /// Whether any connection to the person is up.
    func isConnected(_ identity: [UInt8]) -> Bool {
        peers.values.contains { $0.hosts(identity) }
    }

    /// The people this gateway speaks for, proven on every connection: the first person, then the others by key.
    var localPeople: [Ed25519.KeyPair] {
        [identity] + people.values.map(\.keyPair).filter { $0.publicKey != identity.publicKey }
            .sorted { $0.publicKey.lexicographicallyPrecedes($1.publicKey) }
    }

    /// The writers the room had when it was saved. Call before `restoredJoin`, and perform the actions (their logs are
    /// read) first: what was already stored is history, not news, and is published to nobody.
    mutating func writersRestored(_ topic: RoomTopic, writers: [[UInt8]]) -> [GatewayAction] {
        admit(writers, to: topic, from: nil)
    }

    /// One of our people (nil: the first) was in the room when it was saved: it is announced and looked up again.
    /// Presence starts empty, as after any start: members show up as they write (or from peers' connections).
    mutating func restoredJoin(_ topic: RoomTopic, person: [UInt8]? = nil) -> [GatewayAction] {
        let person = person ?? identity.publicKey
        guard let room = rooms[topic], room.locals[person] != nil else { return [] }
        rooms[topic]?.locals[person]?.joined = true
        return room.joined ? [] : [.discover(topic, true)]
    }

    /// Verified blocks of a writer's log, from where the room stopped ingesting it, in index order.
    mutating func blocksRead(_ topic: RoomTopic, writer: [UInt8], from first: UInt64, blocks: [[UInt8]]) -> [GatewayAction] {
        guard var room = rooms[topic] else { return [] }
        var actions: [GatewayAction] = []
        for events in room.state.ingest(author: writer, from: first, blocks: blocks) where !room.isLocal(writer) {
            for case .skipped(let author, let index) in events { actions.append(.skippedBlock(topic, writer: author, index: index)) }
            actions += room.roomEvents(for: events, author: writer).map(GatewayAction.publish)
        }
        if room.holdersChanged {
            room.holdersChanged = false
            actions.append(.saveCatalogue)
        }
        rooms[topic] = room
        return actions
    }

    /// The room's ledger did not keep the last step (the index could not be written): its state is read back from the
    /// ledger, keeping what this gateway decided outside it (our nick, whom it showed under which nick).
    mutating func roomReloaded(_ topic: RoomTopic) {
        guard let room = rooms[topic] else { return }
        var state = RoomState(
            topic: topic, localWriter: room.ownWriter, fold: fold, contentKey: room.kind.contentKey, restoringFrom: room.state.ledger)
        state.restoreNickHolders(room.state.nickHolders)
        for (person, local) in room.locals {
            state.addLocalWriter(local.writer)
            if let nick = people[person]?.nick { state.setLocalNick(nick, for: local.writer) }
        }
        rooms[topic]?.state = state
    }

    /// Who this gateway showed under which nick in a room, as saved by an earlier run (before its logs are read).
    mutating func nickHoldersRestored(_ topic: RoomTopic, holders: [String: [UInt8]]) {
        rooms[topic]?.state.restoreNickHolders(holders)
    }

    /// Our entries were appended: they are ingested as any writer's, and shown to nobody (front ends echo their own).
    /// Our entries for the room could not be stored (none of the batch was): what they would have recorded is
    /// composed again next time (the nick, the identity proof) rather than assumed written. Clocks stay above them,
    /// which leaves a harmless gap.
    mutating func appendFailed(_ topic: RoomTopic, writer: [UInt8]) {
        guard let person = rooms[topic]?.person(writing: writer) else { return }
        rooms[topic]?.locals[person]?.lastComposedNick = nil
        rooms[topic]?.locals[person]?.identityComposed = false
    }

    /// Our entries were appended (`writer` nil: the room's first local writer).
    mutating func appended(_ topic: RoomTopic, writer: [UInt8]? = nil, from first: UInt64, blocks: [[UInt8]]) -> [GatewayAction] {
        guard let writer = writer ?? rooms[topic]?.ownWriter else { return [] }
        return blocksRead(topic, writer: writer, from: first, blocks: blocks)
    }

    /// How far the room has ingested a writer (the shell reads on from there).
    func ingestedLength(_ topic: RoomTopic, writer: [UInt8]) -> UInt64 {
        rooms[topic]?.state.writerLengths[writer] ?? 0
    }

    /// Rooms that have this writer (a key announced in two rooms is ingested into both).
    func rooms(withWriter writer: [UInt8]) -> [RoomTopic] {
        rooms.compactMap { $0.value.writers.contains(writer) ? $0.key : nil }
    }

    // MARK: - Writers

    /// Learns writer keys for a room: the admitted ones are opened, replicated on every connection sharing the room,
    /// and passed on to the other connections (gossip, so gateways in a line all meet).
    mutating func admit(_ keys: [[UInt8]], to topic: RoomTopic, from origin: ConnectionID?) -> [GatewayAction] {
        guard rooms[topic] != nil else { return [] }
        var actions: [GatewayAction] = []
        var fresh: [[UInt8]] = []
        let isDirect = rooms[topic]?.kind.isDirect == true
        for key in keys {
            // A conversation's logs are its own: a key named for it that writes in another room (ours, say) is not read
            // into it.
            if isDirect, rooms(withWriter: key).contains(where: { $0 != topic }) { continue }
            switch rooms[topic]?.writers.admit(key) {
            case .admitted?:
                fresh.append(key)
                if let discoveryKey = try? DiscoveryKey.of(key) { writerByDiscoveryKey[discoveryKey] = key }
                actions.append(.openReplica(topic, writer: key))
            case .refused?:
                let limit = isDirect ? RoomKind.directWriters : limits.writersPerRoom
                if let origin { actions.append(.disconnect(origin, .tooManyWriters(limit: limit))) }
            case .known?, .invalid?, nil:
                continue
            }
            if case .disconnect = actions.last { break }
        }
        guard !fresh.isEmpty else { return actions }
        actions.append(.saveCatalogue)
        return actions + spread(fresh, in: topic, except: origin)
    }

    /// New writers of a room are replicated on every connection sharing it, and passed on to the connections other
    /// than the one that named them.
    mutating func spread(_ fresh: [[UInt8]], in topic: RoomTopic, except origin: ConnectionID?) -> [GatewayAction] {
        var actions: [GatewayAction] = []
        let gossips = rooms[topic]?.kind.isDirect == false
        for id in peers.keys.sorted() where peers[id]?.rooms[topic]?.isShared == true {
            for key in fresh { actions += startReplication(of: key, on: id) }
            // A direct conversation's channel carries only its hellos: each side names its own log.
            if gossips, id != origin { actions.append(send(RoomWire.Writers(keys: fresh), room: topic, on: id)) }
        }
        return actions
    }

    /// The shell could not open an admitted writer's log: forget it, so a later announcement can try again.
    mutating func replicaFailed(_ topic: RoomTopic, writer: [UInt8]) {
        rooms[topic]?.writers.remove(writer)
        for id in peers.keys { peers[id]?.replicating.remove(writer) }
    }

    // MARK: - Reading

    /// The nick a person (by identity key) shows in the first room, by name, where their log proved who they are.
    func nick(ofIdentity identity: [UInt8]) -> String? {
        for room in rooms.values.sorted(by: { $0.channel < $1.channel }) {
            if let writer = room.state.identities.first(where: { $0.value == identity })?.key {
                return room.state.displayNick(for: writer)
            }
        }
        return nil
    }

    /// The member ids of the writers (not ours) whose display nick folds to `foldedNick` in any room.
    func memberIDs(nicknamed foldedNick: String) -> [String] {
        var ids = Set<String>()
        for room in rooms.values {
            for writer in room.writers.sorted where !room.isLocal(writer) && fold(room.state.displayNick(for: writer)) == foldedNick {
                ids.insert(room.memberID(writer))
            }
        }
        return ids.sorted()
    }

    /// The display nick of a member id in the first room, by name, that holds its writer.
    func nick(ofMember id: String) -> String? {
        for room in rooms.values.sorted(by: { $0.channel < $1.channel }) {
            if let writer = room.writers.sorted.first(where: { room.memberID($0) == id }) {
                return room.state.displayNick(for: writer)
            }
        }
        return nil
    }

    /// The chat lines of a room in the order every gateway agrees on (all of them: for tests and small rooms).
    func history(_ topic: RoomTopic) -> [RoomLine] {
        history(topic, .latest(limit: Int.max))
    }

    /// A window of a room's chat lines, oldest first.
    func history(_ topic: RoomTopic, _ window: RoomHistoryWindow) -> [RoomLine] {
        guard let room = rooms[topic] else { return [] }
        return window.select(from: room.state.ledger, derivedLine: room.line(derivedID:)).compactMap(room.chatLine)
    }
}
