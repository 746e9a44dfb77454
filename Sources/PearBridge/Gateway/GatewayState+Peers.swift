import Foundation
import HyperLog
import SwarmEngine

/// `GatewayState`'s side towards peers: connections coming and going, the room channel's protocol, writer lists and
/// replication channels. Part of `GatewayState`, in its own file for length.
extension GatewayState {
    // MARK: - Peers

    mutating func peerConnected(_ id: ConnectionID, remoteKey: [UInt8], handshakeHash: [UInt8] = [], isInitiator: Bool = false) -> [GatewayAction] {
        peers[id] = PeerRecord(remoteKey: remoteKey, handshakeHash: handshakeHash, isInitiator: isInitiator)
        // Who we speak for goes first: the peer's answers that need it (a direct conversation's channel) come after.
        let people = PeopleWire.hello(people: localPeople, handshakeHash: handshakeHash, weAreInitiator: isInitiator)
        return [.openChannel(id, protocol: PeopleWire.protocolName, id: [], handshake: people.compactEncoded())]
            + joinedRooms.flatMap { announce($0, on: id) } + offerRelay(on: id)
    }

    /// The peer's `pearirc/people/v1` hello: the people it proves are on this connection now (once per connection). A
    /// conversation with one of them opens its channel here.
    mutating func peopleHello(_ handshake: [UInt8], channelID: [UInt8], on id: ConnectionID) -> [GatewayAction] {
        guard let peer = peers[id], channelID.isEmpty, !peer.peopleProven else {
            return [.rejectChannel(id, protocol: PeopleWire.protocolName, id: channelID)]
        }
        guard let hello = try? PeopleWire.Hello(compactEncoded: handshake) else { return [.disconnect(id, .malformedPeopleProof)] }
        guard let people = PeopleWire.verify(hello, handshakeHash: peer.handshakeHash, weAreInitiator: peer.isInitiator) else {
            return [.disconnect(id, .falsePeopleProof)]
        }
        peers[id]?.peopleProven = true
        peers[id]?.people = Set(people)
        for person in people {
            for ours in localPeople {
                if let keys = try? DirectConversationKeys(ourKeyPair: ours, counterpart: person) {
                    peers[id]?.conversationTopics[keys.topic] = Conversation(ours: ours.publicKey, theirs: person)
                }
            }
        }
        var actions: [GatewayAction] = [.peopleProven(id, people)]
        for person in people.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            for ours in localPeople {
                let conversation = Conversation(ours: ours.publicKey, theirs: person)
                if let topic = conversations[conversation], !refusesDirectMessages(conversation) { actions += announce(topic, on: id) }
            }
        }
        return actions
    }

    // MARK: - Relay offers

    /// Our relay is up: every peer, now and later, is told its key.
    mutating func offerRelay(_ key: [UInt8]) -> [GatewayAction] {
        guard ownRelayOffer == nil else { return [] }
        ownRelayOffer = key
        return peers.keys.sorted().flatMap { offerRelay(on: $0) }
    }

    func offerRelay(on id: ConnectionID) -> [GatewayAction] {
        guard let key = ownRelayOffer else { return [] }
        return [.openChannel(id, protocol: RelayOffer.protocolName, id: [], handshake: key)]
    }

    /// The relays our peers offer, those of peers sharing a room with us first (they are the likeliest to be
    /// connected to the people we dial: the room's other members), at most `limit`.
    func offeredRelays(limit: Int = 8) -> [[UInt8]] {
        let offering = peers.values.filter { $0.relayOffer != nil }
        let sharing = offering.filter { $0.rooms.values.contains(where: \.isShared) }
        let others = offering.filter { !$0.rooms.values.contains(where: \.isShared) }
        var keys: [[UInt8]] = []
        for peer in sharing + others {
            guard let key = peer.relayOffer, !keys.contains(key) else { continue }
            keys.append(key)
            if keys.count == limit { break }
        }
        return keys
    }

    /// Rooms our user is in, and open direct conversations (announced only to their person: `announce`).
    var joinedRooms: [RoomTopic] {
        rooms.filter { $0.value.joined }.map(\.key).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    /// The connection is gone: the writers it stood for leave the rooms they were in, room by room (a person may still
    /// be in other rooms through other gateways). A peer may claim any writer key in its hello, so a writer whose log
    /// proved an identity leaves only with a connection of that identity, and not while another connection of that
    /// identity (the one that replaced this one) still claims it; a writer that proved none (another implementation's
    /// peer) has nothing to protect and leaves once no connection claims it. A gateway speaks for several people in a
    /// room with one hello: the others it proved on the connection (`PeopleWire`) leave with it too, unless another
    /// connection still proves them.
    mutating func peerDisconnected(_ id: ConnectionID) -> [GatewayAction] {
        guard let peer = peers.removeValue(forKey: id) else { return [] }
        var actions: [GatewayAction] = []
        let stillProven = peers.values.reduce(into: Set<[UInt8]>()) { $0.formUnion($1.people) }
        for topic in rooms.keys.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            guard var room = rooms[topic] else { continue }
            var leaving: [[UInt8]] = []
            if let owner = room.presence.connectionEnded(id) {
                let gone = switch room.state.identities[owner] {
                case let proven?:
                    peer.hosts(proven) && !room.presence.claimants(of: owner).contains { peers[$0]?.hosts(proven) == true }
                case nil:
                    !room.presence.isClaimed(owner)
                }
                if gone { leaving.append(owner) }
            }
            for writer in room.presence.sorted where !leaving.contains(writer) && !room.presence.isClaimed(writer) {
                guard let proven = room.state.identities[writer], peer.hosts(proven), !stillProven.contains(proven) else { continue }
                leaving.append(writer)
            }
            for writer in leaving where room.presence.hide(writer) {
                actions.append(.publish(.memberLeft(room: room.channel, memberID: room.memberID(writer), reason: "Connection gone")))
            }
            rooms[topic] = room
        }
        return actions
    }

    /// Something arrived on a connection's room or replication channels (replication messages go straight to their
    /// driver and never come here).
    mutating func peerEvent(_ event: PeerEvent, on id: ConnectionID) -> [GatewayAction] {
        guard peers[id] != nil else { return [] }
        switch event {
        case .opened(RoomWire.protocolName, let bytes, let handshake):
            // A direct conversation's topic, or a private room's, is never a channel id: whoever learned one gets
            // nothing on this channel.
            guard let topic = topic(forWire: bytes, on: id) else {
                return [.rejectChannel(id, protocol: RoomWire.protocolName, id: bytes)]
            }
            let joined = rooms[topic]?.joined == true
            if !joined, peers[id]?.rooms[topic] == nil, (peers[id]?.pendingRoomOpens ?? 0) >= limits.pendingRoomOpens {
                // Not our room, and too many such opens kept: refused, so the peer does not wait on it forever.
                return [.rejectChannel(id, protocol: RoomWire.protocolName, id: bytes)]
            }
            // Not (yet) our room: remembered without an answer, so nothing leaks about our rooms.
            let (channel, steps) = RoomChannel.peerOpened(peers[id]?.rooms[topic], handshake: handshake, joined: joined)
            peers[id]?.rooms[topic] = channel
            return perform(steps, room: topic, on: id)
        case .message(RoomWire.protocolName, let bytes, RoomWire.Writers.type, let message):
            guard let topic = topic(forWire: bytes, on: id), peers[id]?.rooms[topic]?.isShared == true else { return [] }
            guard let writers = try? RoomWire.Writers(compactEncoded: message) else {
                return [.disconnect(id, .malformedRoomMessage)]
            }
            let known = rooms[topic]?.writers.count ?? 0
            var actions = admit(writers.keys, to: topic, from: id)
            if rooms[topic]?.writers.count ?? 0 == known,
                let stale = peers[id]?.rooms[topic]?.staleWriterList(), stale > limits.staleWriterLists
            {
                actions.append(.disconnect(id, .staleWriterListFlood))
            }
            return actions
        case .closed(RoomWire.protocolName, let bytes):
            // Closed by the peer, or our open refused: closed on both sides, so announcing starts over.
            if let topic = topic(forWire: bytes, on: id) { peers[id]?.rooms[topic] = nil }
            return []
        case .closed(DirectWire.protocolName, let bytes):
            if let topic = RoomTopic(bytes: bytes) { peers[id]?.rooms[topic] = nil }
            return []
        case .opened(DirectWire.protocolName, let bytes, let handshake):
            return directChannelOpened(bytes, handshake: handshake, on: id)
        case .opened(PeopleWire.protocolName, let channelID, let handshake):
            return peopleHello(handshake, channelID: channelID, on: id)
        case .opened(ReplicationMessage.protocolName, let discoveryKey, let handshake):
            guard let remote = try? ReplicationHandshake(compactEncoded: handshake) else {
                return [.disconnect(id, .malformedReplicationHandshake)]
            }
            let writer = writerByDiscoveryKey[discoveryKey]
            if let writer, peers[id]?.replicating.contains(writer) == true {
                return [.replicationOpened(id, discoveryKey: discoveryKey, remote: remote)]
            }
            guard peers[id]?.pendingReplicationOpens[discoveryKey] != nil
                || (peers[id]?.pendingReplicationOpens.count ?? 0) < limits.pendingReplicationOpens
            else {
                return [.rejectChannel(id, protocol: ReplicationMessage.protocolName, id: discoveryKey)]
            }
            peers[id]?.pendingReplicationOpens[discoveryKey] = remote
            // A writer of a room shared with this peer whose channel closed (our open was refused because the peer's
            // core was not ready yet, as the Node reference does, or either side closed it): the peer's open
            // restarts its replication.
            if let writer, rooms(withWriter: writer).contains(where: { peers[id]?.rooms[$0]?.isShared == true }) {
                return startReplication(of: writer, on: id)
            }
            return []
        case .closed(ReplicationMessage.protocolName, let discoveryKey):
            // Closed on both sides: its driver goes, and a later open by either side starts afresh.
            peers[id]?.pendingReplicationOpens[discoveryKey] = nil
            guard let writer = writerByDiscoveryKey[discoveryKey], peers[id]?.replicating.remove(writer) != nil else { return [] }
            return [.stopReplication(id, discoveryKey: discoveryKey)]
        case .opened(RelayOffer.protocolName, let channelID, let handshake):
            // A relay key, one at a time per connection (a peer may close its offer and make another); anything else
            // is refused (the peer sees its channel closed).
            guard channelID.isEmpty, handshake.count == 32, peers[id]?.relayOffer == nil else {
                return [.rejectChannel(id, protocol: RelayOffer.protocolName, id: channelID)]
            }
            peers[id]?.relayOffer = handshake
            return []
        case .closed(RelayOffer.protocolName, let channelID) where channelID.isEmpty:
            peers[id]?.relayOffer = nil
            return []
        case .opened(let name, let channelID, _):
            // A protocol we do not speak: refused at once, as a Node peer's protomux does without a pair handler.
            return [.rejectChannel(id, protocol: name, id: channelID)]
        case .message, .closed, .disconnected:
            return []
        }
    }

    /// The peer opened a direct conversation's channel: only the conversation between a person proven on this
    /// connection (`PeopleWire`) and ours (its topic is what we compute for that pair, so a third gateway that learned
    /// a topic gets nothing), and not from a person whose direct messages are refused. A conversation we do not hold
    /// yet is opened by the shell (`openConversation`); the peer's open waits for it.
    mutating func directChannelOpened(_ bytes: [UInt8], handshake: [UInt8], on id: ConnectionID) -> [GatewayAction] {
        let reject = [GatewayAction.rejectChannel(id, protocol: DirectWire.protocolName, id: bytes)]
        guard let peer = peers[id], let topic = RoomTopic(bytes: bytes) else { return reject }
        // The proven person whose conversation with one of our people this topic is.
        guard let conversation = peer.conversationTopics[bytes], !refusesDirectMessages(conversation) else { return reject }
        if let held = conversations[conversation] {
            guard held == topic else { return reject }
            let (channel, steps) = RoomChannel.peerOpened(peers[id]?.rooms[topic], handshake: handshake, joined: rooms[topic]?.joined == true)
            peers[id]?.rooms[topic] = channel
            return perform(steps, room: topic, on: id)
        }
        // Anyone may dial us and open one: conversations with no line yet are capped, so throwaway identities cannot
        // make us keep logs without end.
        guard conversations.values.count(where: { rooms[$0]?.state.latestLineTimestamp == nil }) < Self.silentConversationLimit else {
            return reject
        }
        let (channel, _) = RoomChannel.peerOpened(peers[id]?.rooms[topic], handshake: handshake, joined: false)
        peers[id]?.rooms[topic] = channel
        return [.openConversation(conversation)]
    }

    /// One of our people ignored someone (their conversation's channel closes on that someone's connections) or
    /// unignored them (it opens again).
    mutating func directRefusalChanged(_ conversation: Conversation) -> [GatewayAction] {
        guard let topic = conversations[conversation] else { return [] }
        var actions: [GatewayAction] = []
        for id in peers.keys.sorted() where peers[id]?.hosts(conversation.theirs) == true {
            if refusesDirectMessages(conversation) {
                if peers[id]?.rooms[topic]?.isOpenHere == true {
                    actions.append(.closeChannel(id, protocol: DirectWire.protocolName, id: topic.bytes))
                }
                peers[id]?.rooms[topic] = nil
            } else {
                actions += announce(topic, on: id)
            }
        }
        return actions
    }

    /// The id of a room's `pearirc/room/v1` channel on a connection: a public room's topic; for a private room, one
    /// bound to the root and the connection (`PrivateRoomKeys.channelID`), so its topic is never sent.
    func wireID(_ topic: RoomTopic, on id: ConnectionID) -> [UInt8] {
        guard let keys = rooms[topic]?.kind.privateKeys, let peer = peers[id] else { return topic.bytes }
        return keys.channelID(handshakeHash: peer.handshakeHash)
    }

    /// The room a `pearirc/room/v1` channel id names on a connection: a private room we hold whose id it is here, else
    /// the public room of that topic (held or not: an open for a room not held waits unanswered). Nil for an id that
    /// must be refused: a direct conversation's or a private room's topic itself.
    func topic(forWire bytes: [UInt8], on id: ConnectionID) -> RoomTopic? {
        guard let topic = RoomTopic(bytes: bytes) else { return nil }
        if let peer = peers[id] {
            for (held, room) in rooms {
                if let keys = room.kind.privateKeys, keys.channelID(handshakeHash: peer.handshakeHash) == bytes { return held }
            }
        }
        if let room = rooms[topic], room.kind != .publicRoom { return nil }
        return topic
    }

    /// Opens our side of a joined room's channel on a connection (once), answering the peer's open if it waits. A
    /// direct conversation's channel is opened only on its person's connections.
    mutating func announce(_ topic: RoomTopic, on id: ConnectionID) -> [GatewayAction] {
        guard let peer = peers[id], let room = rooms[topic], room.joined else { return [] }
        if let counterpart = room.kind.counterpart, let ours = room.locals.keys.first,
            !peer.hosts(counterpart) || refusesDirectMessages(Conversation(ours: ours, theirs: counterpart))
        {
            return []
        }
        if room.kind.privateKeys != nil, let wire = RoomTopic(bytes: wireID(topic, on: id)), let waiting = peers[id]?.rooms[wire] {
            // The peer opened this private room's channel before we held the room: kept under its id until now.
            peers[id]?.rooms[wire] = nil
            peers[id]?.rooms[topic] = waiting
        }
        let (channel, steps) = RoomChannel.announce(peers[id]?.rooms[topic])
        peers[id]?.rooms[topic] = channel
        return perform(steps, room: topic, on: id)
    }

    mutating func perform(_ steps: [RoomChannel.Step], room topic: RoomTopic, on id: ConnectionID) -> [GatewayAction] {
        var actions: [GatewayAction] = []
        for step in steps {
            switch step {
            case .sendOpen:
                guard let room = rooms[topic], let peer = peers[id] else { continue }
                let proof = room.kind.privateKeys?.proof(handshakeHash: peer.handshakeHash, initiator: peer.isInitiator)
                actions.append(
                    .openChannel(id, protocol: room.kind.channelProtocol, id: room.kind.isDirect ? topic.bytes : wireID(topic, on: id),
                                 handshake: RoomWire.Hello(ownWriter: room.ownWriter, proof: proof).compactEncoded()))
            case .pair(let handshake):
                actions += paired(topic, handshake: handshake, on: id)
            }
        }
        return actions
    }

    /// Both sides opened the room channel: share writers and replicate them.
    mutating func paired(_ topic: RoomTopic, handshake: [UInt8], on id: ConnectionID) -> [GatewayAction] {
        guard let room = rooms[topic], room.joined else { return [] }
        guard let hello = try? RoomWire.Hello(compactEncoded: handshake) else { return [.disconnect(id, .malformedRoomHandshake)] }
        if let keys = room.kind.privateKeys, let peer = peers[id],
            hello.proof != keys.proof(handshakeHash: peer.handshakeHash, initiator: !peer.isInitiator)
        {
            // Not a holder of the room's root (an echo of our own open, or a guess): nothing is shared; closed.
            let wire = wireID(topic, on: id)
            peers[id]?.rooms[topic] = nil
            return [.closeChannel(id, protocol: RoomWire.protocolName, id: wire)]
        }
        peers[id]?.rooms[topic]?.paired(peerWriter: hello.ownWriter)
        if let counterpart = room.kind.counterpart {
            // Each side names its own log in its hello; both logs replicate. Found: no need to look further.
            var actions: [GatewayAction] = [.seek(counterpart, false)]
            for key in room.writers.sorted { actions += startReplication(of: key, on: id) }
            return actions + admit([hello.ownWriter], to: topic, from: id)
        }
        rooms[topic]?.presence.connection(id, owns: hello.ownWriter)
        var actions = [send(RoomWire.Writers(keys: room.writers.sorted), room: topic, on: id)]
        for key in room.writers.sorted { actions += startReplication(of: key, on: id) }
        actions += admit([hello.ownWriter], to: topic, from: id)
        if rooms[topic]?.waitingForPeers == true {
            rooms[topic]?.waitingForPeers = false
            if rooms[topic]?.toldAlone == true {
                rooms[topic]?.toldAlone = false
                actions.append(.publish(.gatewayNotice(room: room.channel, text: Self.firstPeerNotice(room.channel))))
            }
        }
        return actions
    }

    mutating func startReplication(of writer: [UInt8], on id: ConnectionID) -> [GatewayAction] {
        guard let discoveryKey = try? DiscoveryKey.of(writer), peers[id]?.replicating.insert(writer).inserted == true else {
            return []
        }
        let remote = peers[id]?.pendingReplicationOpens.removeValue(forKey: discoveryKey)
        return [.startReplication(id, writer: writer, discoveryKey: discoveryKey, remote: remote)]
    }

    func send(_ writers: RoomWire.Writers, room topic: RoomTopic, on id: ConnectionID) -> GatewayAction {
        .send(id, protocol: RoomWire.protocolName, id: wireID(topic, on: id), type: RoomWire.Writers.type, message: writers.compactEncoded())
    }
}
