import Foundation
import HyperLog

/// `GatewayState`'s side towards our user: joining, parting, saying, renaming, setting topics, and composing our
/// entries with their Lamport clocks. Part of `GatewayState`, in its own file for length.
extension GatewayState {

    mutating func setLocalNick(_ nick: String) {
        localNick = nick
        for topic in rooms.keys { rooms[topic]?.state.setLocalNick(nick) }
    }

    /// Our user joined (the room must be open): first words in a room's log say whose log it is, then the nick when
    /// it changed, then the join; the room is announced to every peer and its present members shown.
    mutating func joined(channel: String, nick: String, at time: Date) -> [GatewayAction] {
        setLocalNick(nick)
        let topic = topic(of: channel)
        guard var room = rooms[topic] else { return [] }
        room.channel = channel
        let wasJoined = room.joined
        room.joined = true
        rooms[topic] = room
        let now = Self.milliseconds(time)
        var lines: [RoomState.LocalLine] = []
        if room.state.identities[room.ownWriter] == nil, !room.identityComposed {
            // So peers show us as one person in every room.
            let proof = WriterIdentity.entryText(identity: identity, topic: topic, writer: room.ownWriter)
            lines.append(.init(kind: .identity, text: proof, timestamp: now))
        }
        if room.ownNick != nick { lines.append(.init(kind: .nick, text: nick, timestamp: now)) }
        lines.append(.init(kind: .join, text: "", timestamp: now))
        var actions: [GatewayAction] = [.append(topic, compose(lines, in: topic)), .saveCatalogue]
        // Our user is one person everywhere: a client that joins under another nick than the rooms we are in last
        // recorded renames us in all of them (other gateways show one user, under the nick of the client now here).
        actions += renamed(to: nick, at: time, except: topic)
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

    /// Our user enters another room under a channel name that meant a joined one (a `JOIN #team secret` while the public
    /// #team was joined with no client in it, as after a restart): the old room is left (recorded as a part) and its
    /// members shown leaving, so the channel shows only the new room's people.
    mutating func leftForAnotherRoom(channel: String, at time: Date) -> [GatewayAction] {
        let topic = topic(of: channel)
        guard let room = rooms[topic], room.joined else { return [] }
        let leaving = room.presence.sorted.map {
            GatewayAction.publish(.memberLeft(room: room.channel, memberID: room.memberID($0), reason: "Another room is \(channel) now"))
        }
        return leaving + parted(channel: channel, reason: "entered another room of this name", at: time)
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

    /// Our user left: the part is recorded, the room stops being announced; its history stays.
    mutating func parted(channel: String, reason: String, at time: Date) -> [GatewayAction] {
        let topic = topic(of: channel)
        guard rooms[topic] != nil else { return [] }
        var actions = [GatewayAction.append(topic, compose([.init(kind: .part, text: reason, timestamp: Self.milliseconds(time))], in: topic))]
        rooms[topic]?.joined = false
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

    /// A chat line from our user. The front end's msgid travels in the entry, so its echo, our history and every
    /// other gateway agree on it.
    mutating func said(channel: String, kind: RoomLineKind, text: String, messageID: String?, at time: Date) -> [GatewayAction] {
        let entryKind: RoomEntry.Kind = switch kind {
        case .message: .message
        case .action: .action
        case .notice: .notice
        }
        return appendLocal(channel, .init(kind: entryKind, text: text, timestamp: Self.milliseconds(time), messageID: messageID))
    }

    mutating func setTopic(channel: String, text: String, at time: Date) -> [GatewayAction] {
        appendLocal(channel, .init(kind: .topic, text: text, timestamp: Self.milliseconds(time)))
    }

    /// Our user's new nick is recorded in every room they are in (where it is not their nick already).
    mutating func renamed(to nick: String, at time: Date, except skipped: RoomTopic? = nil) -> [GatewayAction] {
        setLocalNick(nick)
        var actions: [GatewayAction] = []
        for topic in rooms.keys.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) })
        where topic != skipped && rooms[topic]?.joined == true && rooms[topic]?.kind.isDirect == false && rooms[topic]?.ownNick != nick {
            actions.append(.append(topic, compose([.init(kind: .nick, text: nick, timestamp: Self.milliseconds(time))], in: topic)))
        }
        return actions
    }

    private mutating func appendLocal(_ channel: String, _ line: RoomState.LocalLine) -> [GatewayAction] {
        let topic = topic(of: channel)
        // Only into a room our user is in: a line for a channel left meanwhile is refused, never written elsewhere.
        guard rooms[topic]?.joined == true else { return [] }
        return [.append(topic, compose([line], in: topic))]
    }

    /// New local entries for a room. Appends complete later (the shell queues them, one storage commit for those that
    /// arrive together), so a line composed meanwhile must still sort after them: Lamport clocks continue above the
    /// last one composed, not only above what has been ingested.
    mutating func compose(_ lines: [RoomState.LocalLine], in topic: RoomTopic) -> [RoomEntry] {
        guard let room = rooms[topic] else { return [] }
        let entries = room.state.composeLocal(lines, above: room.lastComposedLamport)
        rooms[topic]?.lastComposedLamport = max(room.lastComposedLamport, entries.last?.lamport ?? 0)
        if let nick = entries.last(where: { $0.kind == .nick })?.text { rooms[topic]?.lastComposedNick = nick }
        if entries.contains(where: { $0.kind == .identity }) { rooms[topic]?.identityComposed = true }
        return entries
    }

    static func milliseconds(_ time: Date) -> UInt64 {
        UInt64(max(0, time.timeIntervalSince1970 * 1000))
    }
}
