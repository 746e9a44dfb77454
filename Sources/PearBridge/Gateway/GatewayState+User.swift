import Foundation
import HyperLog

/// `GatewayState`'s side towards our people: joining, parting, saying, renaming, setting topics, and composing their
/// entries with their Lamport clocks. Every request names the person who acted (nil: the gateway's first person);
/// each writes to their own log of a room. Part of `GatewayState`, in its own file for length.
extension GatewayState {

    /// A person's nick (nil: the first person's), passed on to every room where they have a writer.
    mutating func setLocalNick(_ nick: String, of person: [UInt8]? = nil) {
        let person = person ?? identity.publicKey
        people[person]?.nick = nick
        for topic in rooms.keys {
            if let writer = rooms[topic]?.locals[person]?.writer { rooms[topic]?.state.setLocalNick(nick, for: writer) }
        }
    }

    /// One of our people joined (the room must be open with their writer: `roomOpened` or `localWriterOpened`): first
    /// words in their log of the room say whose log it is, then the nick when it changed, then the join; the room is
    /// announced to every peer when it is the first of our people in it, and its present members shown.
    mutating func joined(channel: String, nick: String, person: [UInt8]? = nil, at time: Date) -> [GatewayAction] {
        let person = person ?? identity.publicKey
        setLocalNick(nick, of: person)
        let topic = topic(of: channel)
        guard var room = rooms[topic], let local = room.locals[person], let keyPair = people[person]?.keyPair else { return [] }
        room.channel = channel
        let wasJoined = room.joined
        room.locals[person]?.joined = true
        rooms[topic] = room
        let now = Self.milliseconds(time)
        var lines: [RoomState.LocalLine] = []
        if room.state.identities[local.writer] == nil, !local.identityComposed {
            // So peers show the person as one person in every room.
            let proof = WriterIdentity.entryText(identity: keyPair, topic: topic, writer: local.writer)
            lines.append(.init(kind: .identity, text: proof, timestamp: now))
        }
        if room.ownNick(of: person) != nick { lines.append(.init(kind: .nick, text: nick, timestamp: now)) }
        lines.append(.init(kind: .join, text: "", timestamp: now))
        var actions: [GatewayAction] = [.append(topic, writer: local.writer, compose(lines, in: topic, by: person)), .saveCatalogue]
        // A person is one person everywhere: a client that joins under another nick than the rooms they are in last
        // recorded renames them in all of them (other gateways show them under the nick of the client now here).
        actions += renamed(to: nick, person: person, at: time, except: topic)
        if !wasJoined {
            actions.append(.discover(topic, true))
            for id in peers.keys.sorted() { actions += announce(topic, on: id) }
        }
        let began = room.state.earliestTimestamp.map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? time
        actions.append(.publish(.roomBegan(room: channel, time: began)))
        // Members already known to be here are shown to the front ends that join now.
        for author in room.presence.sorted {
            actions.append(.publish(.memberJoined(room: channel, member: room.member(author))))
        }
        if sharingPeers(of: topic) == 0, rooms[topic]?.waitingForPeers != true {
            rooms[topic]?.waitingForPeers = true
            actions.append(.checkAlone(topic))
        }
        return actions
    }

    /// Why a person may not enter the room a channel name means here without a key: it is a private room they are not
    /// in (another of our people joined it with its key, or accepted its invite); its name leads nobody else in.
    func joinRefusal(_ topic: RoomTopic, channel: String, person: [UInt8]) -> [GatewayAction]? {
        guard let room = rooms[topic], room.kind.privateKeys != nil, room.locals[person] == nil else { return nil }
        return [.publish(.joinRefused(
            room: channel, person: person, reason: "\(channel) is a private room here: join it with its key or an invite"))]
    }

    /// One of our people enters another room under a channel name that meant a joined one (a `JOIN #team secret` while
    /// the public #team was joined with no client in it, as after a restart): the old room is left (recorded as their
    /// part) and its members shown leaving, so the channel shows only the new room's people. Refused (nil) while
    /// another of our people is in the old room: the name is theirs until they leave it.
    mutating func leftForAnotherRoom(channel: String, person: [UInt8]? = nil, at time: Date) -> [GatewayAction]? {
        let person = person ?? identity.publicKey
        let topic = topic(of: channel)
        guard let room = rooms[topic], room.joined else { return [] }
        guard !room.locals.contains(where: { $0.key != person && $0.value.joined }) else { return nil }
        let leaving = room.presence.sorted.map {
            GatewayAction.publish(.memberLeft(room: room.channel, memberID: room.memberID($0), reason: "Another room is \(channel) now"))
        }
        return leaving + parted(channel: channel, reason: "entered another room of this name", person: person, at: time)
    }

    /// A moment after our user joined a room nobody shared: if still nobody does, they are told so (once).
    mutating func aloneCheck(_ topic: RoomTopic) -> [GatewayAction] {
        guard let room = rooms[topic], room.joined, room.waitingForPeers, !room.toldAlone, sharingPeers(of: topic) == 0
        else { return [] }
        rooms[topic]?.toldAlone = true
        return [.publish(.gatewayNotice(room: room.channel, text: Self.aloneNotice(room.channel)))]
    }

    static func aloneNotice(_ channel: String) -> String {
        "No one else is in \(channel) right now: looking for its people on the DHT. What you write is kept, and they get it when they arrive."
    }

    static func firstPeerNotice(_ channel: String) -> String {
        "Another gateway is in \(channel) now: lines reach its people, and theirs reach you."
    }

    /// How many connections share the room with us right now.
    func sharingPeers(of topic: RoomTopic) -> Int {
        peers.values.count { $0.rooms[topic]?.isShared == true }
    }

    /// One of our people left: the part is recorded in their log; when the last of them leaves, the room stops being
    /// announced. Its history stays.
    mutating func parted(channel: String, reason: String, person: [UInt8]? = nil, at time: Date) -> [GatewayAction] {
        let person = person ?? identity.publicKey
        let topic = topic(of: channel)
        guard let local = rooms[topic]?.locals[person] else { return [] }
        var actions = [GatewayAction.append(
            topic, writer: local.writer, compose([.init(kind: .part, text: reason, timestamp: Self.milliseconds(time))], in: topic, by: person))]
        rooms[topic]?.locals[person]?.joined = false
        guard rooms[topic]?.joined == false else { return actions + [.saveCatalogue] }
        // Left, a private room no longer holds its name: a later join without a key is the public room's.
        if rooms[topic]?.kind.privateKeys != nil { privateNames[fold(channel)] = nil }
        // A pending alone check is void; the next join starts afresh.
        rooms[topic]?.waitingForPeers = false
        rooms[topic]?.toldAlone = false
        actions += [.saveCatalogue, .discover(topic, false)]
        for id in peers.keys.sorted() {
            guard let channel = peers[id]?.rooms[topic] else { continue }
            if channel.isOpenHere {
                actions.append(.closeChannel(id, protocol: RoomWire.protocolName, id: wireID(topic, on: id)))
                peers[id]?.rooms[topic] = nil
            }
        }
        return actions
    }

    /// A chat line from one of our people. The front end's msgid travels in the entry, so its echo, our history and
    /// every other gateway agree on it.
    mutating func said(
        channel: String, person: [UInt8]? = nil, kind: RoomLineKind, text: String, messageID: String?, at time: Date
    ) -> [GatewayAction] {
        let entryKind: RoomEntry.Kind = switch kind {
        case .message: .message
        case .action: .action
        case .notice: .notice
        }
        return appendLocal(channel, person: person, .init(kind: entryKind, text: text, timestamp: Self.milliseconds(time), messageID: messageID))
    }

    mutating func setTopic(channel: String, text: String, person: [UInt8]? = nil, at time: Date) -> [GatewayAction] {
        appendLocal(channel, person: person, .init(kind: .topic, text: text, timestamp: Self.milliseconds(time)))
    }

    /// A person's new nick is recorded in every room they are in (where it is not their nick already).
    mutating func renamed(to nick: String, person: [UInt8]? = nil, at time: Date, except skipped: RoomTopic? = nil) -> [GatewayAction] {
        let person = person ?? identity.publicKey
        setLocalNick(nick, of: person)
        var actions: [GatewayAction] = []
        for topic in rooms.keys.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) where topic != skipped {
            guard let room = rooms[topic], !room.kind.isDirect, let local = room.locals[person], local.joined,
                room.ownNick(of: person) != nick
            else { continue }
            actions.append(.append(
                topic, writer: local.writer,
                compose([.init(kind: .nick, text: nick, timestamp: Self.milliseconds(time))], in: topic, by: person)))
        }
        return actions
    }

    private mutating func appendLocal(_ channel: String, person: [UInt8]?, _ line: RoomState.LocalLine) -> [GatewayAction] {
        let person = person ?? identity.publicKey
        let topic = topic(of: channel)
        // Only into a room the person is in: a line for a channel left meanwhile is refused, never written elsewhere.
        guard let local = rooms[topic]?.locals[person], local.joined else { return [] }
        return [.append(topic, writer: local.writer, compose([line], in: topic, by: person))]
    }

    /// New entries of one of our people for a room. Appends complete later (the shell queues them, one storage commit
    /// for those that arrive together), so a line composed meanwhile must still sort after them: Lamport clocks
    /// continue above the last one composed in the room (by any of our people), not only above what has been ingested.
    mutating func compose(_ lines: [RoomState.LocalLine], in topic: RoomTopic, by person: [UInt8]? = nil) -> [RoomEntry] {
        let person = person ?? identity.publicKey
        guard let room = rooms[topic], let local = room.locals[person] else { return [] }
        let entries = room.state.composeLocal(lines, above: room.lastComposedLamport, by: local.writer)
        rooms[topic]?.lastComposedLamport = max(room.lastComposedLamport, entries.last?.lamport ?? 0)
        if let nick = entries.last(where: { $0.kind == .nick })?.text { rooms[topic]?.locals[person]?.lastComposedNick = nick }
        if entries.contains(where: { $0.kind == .identity }) { rooms[topic]?.locals[person]?.identityComposed = true }
        return entries
    }

    static func milliseconds(_ time: Date) -> UInt64 {
        UInt64(max(0, time.timeIntervalSince1970 * 1000))
    }
}
