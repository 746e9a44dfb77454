import Sodium
import Foundation
import HyperLog
import IRCServer
import Synchronization
import SwarmEngine

/// What front ends ask the gateway and tell it outside the mailbox: readiness, history windows, people by nick,
/// private rooms and invites, direct conversations, the peers and rooms summaries (`PearServ`), relay offers. Part
/// of `Gateway`, in its own file for length.
extension Gateway {
    // MARK: - Front ends


    func markReady() {
        isReady = true
        for waiter in readyWaiters { waiter.resume() }
        readyWaiters = []
    }

    /// Returns once `run()` has restored the saved rooms (front ends may connect while it does).
    public func ready() async {
        if isReady { return }
        // Checked again where the waiter is kept: the call may suspend before its body runs (seen: the body ran after
        // `markReady`, and the waiter was never resumed), so a check made before it can be stale.
        await withCheckedContinuation { waiter in
            if isReady { waiter.resume() } else { readyWaiters.append(waiter) }
        }
    }

    /// Handles what one of our people did (`person`, an identity key; nil: the gateway's first person); returns once
    /// it is recorded: its entries committed and ingested (or the gateway has stopped).
    public func handle(_ request: GatewayRequest, as person: [UInt8]? = nil) async {
        let person = person ?? identity.keyPair.publicKey
        await withCheckedContinuation { done in post(.request(request, person: person, RequestCompletion { _ in done.resume() })) }
    }

    /// Queues what one of our people did without waiting for it: requests are still handled in the order submitted,
    /// and a burst of lines is committed together. For front ends that do not wait on each line (the IRC adapter's).
    public nonisolated func submit(_ request: GatewayRequest, as person: [UInt8]? = nil) {
        post(.request(request, person: person ?? identity.keyPair.publicKey, RequestCompletion(nil)))
    }

    /// Queues a chat line without waiting for it (as `submit`); `stored` is called once it is committed (nil) or could
    /// not be (why, in words for the user: a full disk, a room this gateway does not hold, the gateway stopping).
    public nonisolated func submit(_ request: GatewayRequest, as person: [UInt8]? = nil, stored: @escaping @Sendable (String?) -> Void) {
        post(.request(request, person: person ?? identity.keyPair.publicKey, RequestCompletion(stored)))
    }

    /// A person this gateway speaks for from now on (an account's key pair, at its first login after start); requests
    /// posted after this are theirs to make. Already known: nothing changes.
    public nonisolated func addPerson(_ keyPair: Ed25519.KeyPair) {
        post(.addPerson(keyPair))
    }

    static let stoppingFailure = "the gateway is stopping"

    /// A room's chat lines in the order every gateway agrees on; empty for a room this gateway does not hold (asking
    /// never creates one).
    /// Lines of authors `person` (nil: the first person) ignores are left out.
    public func history(room channel: String, for person: [UInt8]? = nil) async -> [RoomLine] {
        await ready()
        let person = person ?? identity.keyPair.publicKey
        guard mayRead(state.topic(of: channel), person) else { return [] }
        return state.history(state.topic(of: channel)).filter { !ignores.hides($0.author, from: person) }
    }

    /// Whether `person` may read a room's history: any public room; a private room only if they are in it (hold a
    /// log of it), so a channel name that means someone else's private room here shows them nothing.
    func mayRead(_ topic: RoomTopic, _ person: [UInt8]) -> Bool {
        guard let room = state.rooms[topic], room.kind.privateKeys != nil else { return true }
        return room.locals[person] != nil
    }

    /// Every chat line held, ignored people's too (tests and diagnostics).
    func allLines(room channel: String) -> [RoomLine] {
        state.history(state.topic(of: channel))
    }

    /// A window of a room's chat lines, oldest first (indexed look-ups: the cost does not grow with the history).
    /// The lines of people `person` (nil: the first person) ignores are left out (so a window may hold fewer lines
    /// than it asked for).
    public func history(room channel: String, window: RoomHistoryWindow, for person: [UInt8]? = nil) async -> [RoomLine] {
        await ready()
        let person = person ?? identity.keyPair.publicKey
        guard mayRead(state.topic(of: channel), person) else { return [] }
        return state.history(state.topic(of: channel), window).filter { !ignores.hides($0.author, from: person) }
    }

    /// The member ids (see `IgnoreList`) of the people shown under `nick` (case-folded) in any room, other than our
    /// user: one for a nick that names one person, several when it is ambiguous.
    public func people(nicknamed nick: String) -> [String] {
        state.memberIDs(nicknamed: Self.fold(nick))
    }

    /// The nick a member id shows in some room, if any.
    public func nick(ofMember id: String) -> String? {
        state.nick(ofMember: id)
    }

    /// When the room last had a chat line (the newest author timestamp), for CHATHISTORY TARGETS.
    public func latestLineTime(room channel: String, for person: [UInt8]? = nil) async -> Date? {
        await ready()
        guard mayRead(state.topic(of: channel), person ?? identity.keyPair.publicKey) else { return nil }
        return state.rooms[state.topic(of: channel)]?.state.latestLineTimestamp.map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    // MARK: - Private rooms

    /// The invite to the private room a channel name means here (`RoomInvite`); nil when it means a public room or none.
    /// Only for someone in the room (`person`, nil: the first person): another person of this gateway gets no invite to
    /// a private room they are not in.
    public func invite(to channel: String, for person: [UInt8]? = nil) -> RoomInvite? {
        guard let room = state.rooms[state.topic(of: channel)], let keys = room.kind.privateKeys,
            room.locals[person ?? identity.keyPair.publicKey] != nil
        else { return nil }
        return RoomInvite(channel: room.channel, root: keys.root)
    }

    /// Whether an identity is one of the people this gateway speaks for.
    public func speaksFor(_ identity: [UInt8]) -> Bool {
        state.people[identity] != nil
    }

    /// Whether a channel name means this private room here now (an accepted invite is entered by joining its name).
    public func names(_ channel: String, _ keys: PrivateRoomKeys) -> Bool {
        state.topic(of: channel) == keys.topic
    }

    // MARK: - Direct messages

    /// Whether a key is a person's identity proven in a room held here (a member id may be a writer key instead: the
    /// log of a peer that proved no identity, whom no direct message can reach).
    public func isKnownPerson(_ identity: [UInt8]) -> Bool {
        state.nick(ofIdentity: identity) != nil
    }

    /// Whether the person's gateway is connected now (a line to them goes at once), read from any thread.
    public nonisolated func isConnected(_ identity: [UInt8]) -> Bool {
        connectedKeys.withLock { $0[identity, default: 0] > 0 }
    }


    /// `person` (one of our people) ignored or unignored someone (`IgnoreList`): their conversation's channel closes,
    /// or opens again.
    public nonisolated func ignoreChanged(_ id: String, by person: [UInt8]) {
        guard let key = ZBase32.decode(id), key.count == 32 else { return }
        post(.ignoreChanged(GatewayState.Conversation(ours: person, theirs: key)))
    }

    /// The nick one of our people goes by (nil: the first person; their most recently registered or renamed client).
    public func localNick(of person: [UInt8]? = nil) -> String? { state.nick(ofPerson: person) }

    /// A window of the direct conversation of one of our people (nil: the first) with a person, oldest first (both
    /// sides' lines; an ignored person's none); empty when there is none.
    public func directHistory(with identity: [UInt8], for person: [UInt8]? = nil, window: RoomHistoryWindow) async -> [RoomLine] {
        await ready()
        guard let topic = state.conversation(with: identity, for: person) else { return [] }
        let person = person ?? self.identity.keyPair.publicKey
        return state.history(topic, window).filter { !ignores.hides($0.author, from: person) }
    }

    /// Every direct conversation of one of our people (nil: the first): the other person, the nick they show (in a
    /// shared room, else in the conversation), and when its latest line was written.
    public func conversations(for person: [UInt8]? = nil) async -> [(identity: [UInt8], nick: String, latest: Date?)] {
        await ready()
        let ours = person ?? identity.keyPair.publicKey
        return state.conversations.compactMap { conversation, topic in
            let identity = conversation.theirs
            guard conversation.ours == ours, let room = state.rooms[topic] else { return nil }
            let theirs = room.writers.sorted.first { room.state.identities[$0] == identity }
            let nick = state.nick(ofIdentity: identity) ?? theirs.map { room.state.displayNick(for: $0) }
                ?? String(ZBase32.encode(identity).prefix(12))
            return (identity, nick, room.state.latestLineTimestamp.map { Date(timeIntervalSince1970: Double($0) / 1000) })
        }
    }

    /// This gateway's own writer key for a room it holds (tests, diagnostics).
    public func ownWriter(channel: String) -> [UInt8]? {
        state.rooms[state.topic(of: channel)]?.ownWriter
    }

    /// How many writer logs the room has (ours included); nil when it is not a room we hold.
    public func writerCount(channel: String) -> Int? {
        state.rooms[state.topic(of: channel)]?.writers.count
    }

    /// One connected peer, for `/msg PearServ peers` and diagnostics.
    public struct PeerSummary: Sendable, Hashable {
        public var label: String
        /// The connection's key: the other gateway's transport key.
        public var remoteKey: [UInt8]
        /// The people it proved it speaks for on this connection (`PeopleWire`), sorted.
        public var people: [[UInt8]]
        /// The nick its person shows in a room we share, once their log proved their identity.
        public var nick: String?
        /// The rooms shared with it (channel names as our user joined them), sorted.
        public var rooms: [String]
        public var sharedRooms: Int { rooms.count }
        /// How the connection runs (TCP, direct, punched, relayed) and its round-trip time where measured.
        public var path: PeerPathInfo
    }

    public var peers: [PeerSummary] {
        get async {
            var summaries: [PeerSummary] = []
            for id in links.keys.sorted() {
                guard let link = links[id] else { continue }
                let shared = (state.peers[id]?.rooms ?? [:]).filter(\.value.isShared).compactMap { state.rooms[$0.key]?.channel }
                let people = (state.peers[id]?.people ?? []).sorted { $0.lexicographicallyPrecedes($1) }
                summaries.append(PeerSummary(
                    label: link.mux.label, remoteKey: link.mux.remotePublicKey, people: people,
                    nick: people.lazy.compactMap { self.state.nick(ofIdentity: $0) }.first, rooms: shared.sorted(),
                    path: await link.mux.pathInfo()))
            }
            return summaries
        }
    }


    /// Offers our blind relay (its public key) to every peer, now and later (`RelayOffer`).
    public nonisolated func offerRelay(_ key: [UInt8]) {
        post(.offerRelay(key))
    }

    /// The relays our peers offer, those sharing a room with us first (for dialling peers we cannot punch to).
    public var offeredRelays: [[UInt8]] { state.offeredRelays() }

    /// One room our user is in, for `/msg PearServ rooms`.
    public struct RoomSummary: Sendable, Hashable {
        public var channel: String
        /// Connections that share it with us now.
        public var peers: Int
        /// Members shown in it (other people, across all gateways).
        public var members: Int
    }

    public var rooms: [RoomSummary] { rooms(of: nil) }

    /// The rooms one of our people (nil: any of them) is in.
    public func rooms(of person: [UInt8]?) -> [RoomSummary] {
        state.joinedRooms.compactMap { topic in
            guard let room = state.rooms[topic], !room.kind.isDirect else { return nil }
            if let person, room.locals[person]?.joined != true { return nil }
            return RoomSummary(channel: room.channel, peers: state.sharingPeers(of: topic), members: room.presence.sorted.count)
        }.sorted { $0.channel < $1.channel }
    }
}
