import CompactEncoding
import Foundation
import HyperLog
import IRCServer
import Sodium
import SwarmEngine
import Testing

@testable import PearBridge

/// `GatewayState` fed inputs directly: no logs, sockets, tasks or sleeps. Actions are compared as short strings
/// (`describe`), so each table row reads as what the gateway would do.
@Suite struct GatewayStateTests {
    static let fold: @Sendable (String) -> String = { IRCCasemapping.rfc1459.fold($0) }
    static let ownWriter = Array(repeating: UInt8(1), count: 32)
    static let peerKey = Array(repeating: UInt8(9), count: 32)
    static let room = RoomTopic(foldedChannelName: "#room")

    static func makeState(limits: GatewayState.Limits = .init(writersPerRoom: 4, staleWriterLists: 2, pendingRoomOpens: 2, pendingReplicationOpens: 2))
        -> GatewayState
    {
        var state = GatewayState(identity: Ed25519.randomKeyPair(), limits: limits, fold: fold)
        state.roomOpened(channel: "#Room", ownWriter: ownWriter)
        return state
    }

    static func key(_ byte: UInt8) -> [UInt8] { Array(repeating: byte, count: 32) }

    /// One line per action: what it is and the facts a test cares about.
    static func describe(_ actions: [GatewayAction]) -> [String] {
        actions.map { action in
            switch action {
            case .append(_, _, let entries):
                "append \(entries.map { "\($0.kind)@\($0.lamport)" }.joined(separator: ","))"
            case .openReplica(_, let writer): "openReplica \(writer[0])"
            case .openChannel(let id, let name, _, _): "open \(id) \(name)"
            case .send(let id, let name, _, let type, let message):
                if name == RoomWire.protocolName, type == RoomWire.Writers.type,
                    let writers = try? RoomWire.Writers(compactEncoded: message)
                {
                    "writers \(id) \(writers.keys.map { "\($0[0])" }.joined(separator: ","))"
                } else {
                    "send \(id) \(name)"
                }
            case .closeChannel(let id, let name, _): "close \(id) \(name)"
            case .rejectChannel(let id, let name, _): "reject \(id) \(name)"
            case .startReplication(let id, let writer, _, let remote): "replicate \(id) \(writer[0])\(remote == nil ? "" : " +remote")"
            case .replicationOpened(let id, _, _): "replicationOpened \(id)"
            case .stopReplication(let id, _): "stopReplication \(id)"
            case .disconnect(let id, let why): "disconnect \(id) \(why)"
            case .discover(_, let joined): joined ? "discover" : "undiscover"
            case .checkAlone: "checkAlone"
            case .saveCatalogue: "save"
            case .publish(let event): "publish \(Self.describe(event))"
            case .openConversation(let conversation): "openConversation \(conversation.theirs[0])"
            case .announcePerson(let person): "announcePerson \(person[0])"
            case .seek(let identity, let seeking): "\(seeking ? "seek" : "unseek") \(identity[0])"
            case .skippedBlock(_, let writer, let index): "skipped \(writer[0])#\(index)"
            case .peopleProven(let id, let people): "people \(id) \(people.map { "\($0[0])" }.joined(separator: ","))"
            }
        }
    }

    static func describe(_ event: RoomEvent) -> String {
        switch event {
        case .memberJoined(let room, let member): "joined \(room) \(member.nick)"
        case .memberLeft(let room, _, let reason): "left \(room) \(reason)"
        case .memberRenamed(_, let nick): "renamed \(nick)"
        case .memberIdentified(let room, _, let member): "identified \(room) \(member.nick)"
        case .line(let room, let line): "line \(room) <\(line.author.nick)> \(line.text)"
        case .topicChanged(let room, _, let topic): "topic \(room) \(topic)"
        case .gatewayNotice(_, let text): "notice \(text)"
        case .roomBegan(let room, let time): "began \(room) \(Int(time.timeIntervalSince1970))"
        case .directLine(_, let line): "direct <\(line.author.nick)> \(line.text)"
        case .joinRefused(let room, let person, _): "refused \(room) \(person[0])"
        }
    }

    static func hello(_ writer: [UInt8]) -> [UInt8] { RoomWire.Hello(ownWriter: writer).compactEncoded() }

    static func writers(_ keys: [[UInt8]]) -> PeerEvent {
        .message(protocol: RoomWire.protocolName, id: room.bytes, type: RoomWire.Writers.type, message: RoomWire.Writers(keys: keys).compactEncoded())
    }

    /// Feeds our appended entries back, as the shell does after a successful append.
    static func acknowledge(_ actions: [GatewayAction], into state: inout GatewayState, from first: UInt64) {
        for case .append(let topic, let writer, let entries) in actions {
            _ = state.appended(topic, writer: writer, from: first, blocks: entries.map { $0.encoded() })
        }
    }

    // MARK: - Our user

    @Test func aFirstJoinProvesTheIdentityNamesTheNickAndJoinsInOneBatch() {
        var state = Self.makeState()
        let actions = state.joined(channel: "#room", nick: "alice", at: Date(timeIntervalSince1970: 1))
        // Nobody else is here yet: in a moment, unless someone turns up, the user is told so.
        #expect(Self.describe(actions) == ["append identity@1,nick@2,join@3", "save", "discover", "publish began #room 1", "checkAlone"])
        Self.acknowledge(actions, into: &state, from: 0)
        // Joining again with the same nick records the join only: the identity is proven and the nick unchanged. The
        // room began with its first entry, whenever it is joined again. (The alone check is already pending.)
        #expect(Self.describe(state.joined(channel: "#room", nick: "alice", at: Date())) == ["append join@4", "save", "publish began #room 1"])
        // Composed while the join@4 append is still under way: its clocks continue above it.
        #expect(Self.describe(state.joined(channel: "#room", nick: "alicia", at: Date(timeIntervalSince1970: 9)))
            == ["append nick@5,join@6", "save", "publish began #room 1"])
    }

    /// A client that joins one room under a new nick renames our user in every room we are in: other gateways show
    /// one person, under the nick of the client here now, not the last one's.
    @Test func joiningUnderANewNickRenamesUsEverywhere() {
        var state = Self.makeState()
        state.roomOpened(channel: "#other", ownWriter: Self.key(2))
        _ = state.joined(channel: "#room", nick: "annjmtr", at: Date())
        _ = state.joined(channel: "#other", nick: "annjmtr", at: Date())
        let actions = Self.describe(state.joined(channel: "#room", nick: "alice", at: Date()))
        #expect(actions.prefix(3) == ["append nick@4,join@5", "save", "append nick@4"])
        // Already alice everywhere: nothing more to record.
        #expect(Self.describe(state.renamed(to: "alice", at: Date())).isEmpty)
    }

    @Test func linesTopicsAndNicksAreAppendedOnlyToRoomsWeHold() {
        var state = Self.makeState()
        #expect(state.said(channel: "#other", kind: .message, text: "x", messageID: nil, at: Date()).isEmpty)
        // Held but not joined (our user left it): a line is refused, not written.
        #expect(state.said(channel: "#room", kind: .message, text: "x", messageID: nil, at: Date()).isEmpty)
        // A rename is recorded in joined rooms only.
        #expect(state.renamed(to: "bob", at: Date()).isEmpty)
        let me = state.identity.publicKey
        state.rooms[Self.room]?.locals[me]?.joined = true
        #expect(Self.describe(state.said(channel: "#ROOM", kind: .action, text: "waves", messageID: "a.1", at: Date())) == ["append action@1"])
        // The action's append has not come back yet; the topic still sorts after it.
        #expect(Self.describe(state.setTopic(channel: "#room", text: "t", at: Date())) == ["append topic@2"])
        state.rooms[Self.room]?.locals[me]?.joined = false
        _ = state.joined(channel: "#room", nick: "alice", at: Date())
        #expect(Self.describe(state.renamed(to: "bob", at: Date())).count == 1)
        #expect(state.history(RoomTopic(foldedChannelName: "#never")).isEmpty)
    }

    // MARK: - The room channel

    struct ChannelCase: Sendable, CustomStringConvertible {
        let description: String
        let joinFirst: Bool
        let events: [PeerEvent]
        let expected: [String]
    }

    static let channelCases: [ChannelCase] = [
        ChannelCase(
            description: "a joined room is announced when a peer connects, and shared once the peer opens it",
            joinFirst: true,
            events: [.opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7)))],
            expected: ["writers 1 1", "replicate 1 1", "openReplica 7", "save", "replicate 1 7"]),
        ChannelCase(
            description: "an open for a room not joined here stays unanswered",
            joinFirst: false,
            events: [.opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7)))],
            expected: []),
        ChannelCase(
            description: "a malformed hello is misbehaviour",
            joinFirst: true,
            events: [.opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: [1, 2])],
            expected: ["disconnect 1 malformed room handshake"]),
        ChannelCase(
            description: "a room id that is not 32 bytes is refused",
            joinFirst: true,
            events: [.opened(protocol: RoomWire.protocolName, id: [1], handshake: [])],
            expected: ["reject 1 pearirc/room/v1"]),
        ChannelCase(
            description: "a protocol we do not speak is refused",
            joinFirst: true,
            events: [.opened(protocol: "other/v1", id: [1], handshake: [])],
            expected: ["reject 1 other/v1"]),
        ChannelCase(
            description: "writers on a channel that is not shared are ignored",
            joinFirst: true,
            events: [writers([key(5)])],
            expected: []),
        ChannelCase(
            description: "a malformed writers message on a shared channel is misbehaviour",
            joinFirst: true,
            events: [
                .opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7))),
                .message(protocol: RoomWire.protocolName, id: room.bytes, type: RoomWire.Writers.type, message: [200]),
            ],
            expected: ["writers 1 1", "replicate 1 1", "openReplica 7", "save", "replicate 1 7", "disconnect 1 malformed room message"]),
        ChannelCase(
            description: "writer lists that teach nothing are tolerated up to the limit, then the peer is dropped",
            joinFirst: true,
            events: [.opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7)))]
                + Array(repeating: writers([key(7)]), count: 3),
            expected: ["writers 1 1", "replicate 1 1", "openReplica 7", "save", "replicate 1 7", "disconnect 1 flood of room writer lists"]),
        ChannelCase(
            description: "a room admits writers up to its rule; announcing more is misbehaviour",
            joinFirst: true,
            events: [
                .opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7))),
                writers([key(20), key(21), key(22)]),
            ],
            expected: [
                "writers 1 1", "replicate 1 1", "openReplica 7", "save", "replicate 1 7", "openReplica 20", "openReplica 21",
                "disconnect 1 more than 4 writers in a room", "save", "replicate 1 20", "replicate 1 21",
            ]),
        ChannelCase(
            description: "a core the peer opens before we replicate it waits, and its open goes with our start",
            joinFirst: true,
            events: [
                .opened(
                    protocol: ReplicationMessage.protocolName, id: try! DiscoveryKey.of(key(7)),
                    handshake: ReplicationHandshake(capability: key(3)).compactEncoded()),
                .opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7))),
            ],
            expected: ["writers 1 1", "replicate 1 1", "openReplica 7", "save", "replicate 1 7 +remote"]),
        ChannelCase(
            description: "a core channel the peer closed (or refused) loses its driver, and the peer's next open restarts it",
            joinFirst: true,
            events: [
                .opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7))),
                .closed(protocol: ReplicationMessage.protocolName, id: try! DiscoveryKey.of(key(7))),
                .closed(protocol: ReplicationMessage.protocolName, id: try! DiscoveryKey.of(key(7))),
                .opened(
                    protocol: ReplicationMessage.protocolName, id: try! DiscoveryKey.of(key(7)),
                    handshake: ReplicationHandshake(capability: key(3)).compactEncoded()),
            ],
            expected: ["writers 1 1", "replicate 1 1", "openReplica 7", "save", "replicate 1 7", "stopReplication 1", "replicate 1 7 +remote"]),
        ChannelCase(
            description: "an open for a core of a room not shared with the peer waits",
            joinFirst: false,
            events: [
                .opened(
                    protocol: ReplicationMessage.protocolName, id: try! DiscoveryKey.of(ownWriter),
                    handshake: ReplicationHandshake(capability: key(3)).compactEncoded()),
            ],
            expected: []),
        ChannelCase(
            description: "a malformed replication handshake is misbehaviour",
            joinFirst: true,
            events: [.opened(protocol: ReplicationMessage.protocolName, id: key(4), handshake: [255])],
            expected: ["disconnect 1 malformed replication handshake"]),
        ChannelCase(
            description: "unanswered room opens are kept up to the limit, then refused",
            joinFirst: false,
            events: (0..<3).map { index in
                .opened(protocol: RoomWire.protocolName, id: RoomTopic(foldedChannelName: "#p\(index)").bytes, handshake: [])
            },
            expected: ["reject 1 pearirc/room/v1"]),
        ChannelCase(
            description: "a closed channel is forgotten, so the peer's next open is answered anew",
            joinFirst: true,
            events: [
                .opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7))),
                .closed(protocol: RoomWire.protocolName, id: room.bytes),
                .opened(protocol: RoomWire.protocolName, id: room.bytes, handshake: hello(key(7))),
            ],
            expected: ["writers 1 1", "replicate 1 1", "openReplica 7", "save", "replicate 1 7", "open 1 pearirc/room/v1", "writers 1 1,7"]),
    ]

    @Test(arguments: channelCases)
    func roomChannel(_ row: ChannelCase) {
        var state = Self.makeState()
        if row.joinFirst { _ = state.joined(channel: "#room", nick: "alice", at: Date()) }
        let connected = Self.describe(state.peerConnected(1, remoteKey: Self.peerKey))
        #expect(connected == ["open 1 pearirc/people/v1"] + (row.joinFirst ? ["open 1 pearirc/room/v1"] : []))
        let actions = row.events.flatMap { state.peerEvent($0, on: 1) }
        // The first peer's notice to our user is `aJoinAloneIsToldAndTheFirstPeerIsAnnouncedOnce`'s subject.
        #expect(Self.describe(actions).filter { !$0.hasPrefix("publish notice") } == row.expected, "\(row.description)")
    }

    /// A relay key a peer offers (`pearirc/relay/v1`) is kept while its channel is open, those of peers sharing a
    /// room first; a malformed or repeated offer is refused; ours goes to every peer, now and later.
    @Test func relayOffersAreLearntAndMade() {
        var state = Self.makeState()
        _ = state.joined(channel: "#room", nick: "alice", at: Date())
        _ = state.peerConnected(1, remoteKey: Self.peerKey)
        _ = state.peerConnected(2, remoteKey: Self.key(8))
        let relay1 = Self.key(41), relay2 = Self.key(42)
        #expect(state.peerEvent(.opened(protocol: RelayOffer.protocolName, id: [], handshake: relay2), on: 2).isEmpty)
        #expect(state.peerEvent(.opened(protocol: RelayOffer.protocolName, id: [], handshake: relay1), on: 1).isEmpty)
        // Peer 1 shares the room: its relay comes first.
        _ = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(Self.key(7))), on: 1)
        #expect(state.offeredRelays() == [relay1, relay2])
        #expect(Self.describe(state.peerEvent(.opened(protocol: RelayOffer.protocolName, id: [], handshake: relay2), on: 1))
            == ["reject 1 pearirc/relay/v1"])
        #expect(Self.describe(state.peerEvent(.opened(protocol: RelayOffer.protocolName, id: [], handshake: [1, 2]), on: 2))
            == ["reject 2 pearirc/relay/v1"])
        _ = state.peerEvent(.closed(protocol: RelayOffer.protocolName, id: []), on: 2)
        #expect(state.offeredRelays() == [relay1])
        // Ours: offered to both peers at once, and to a peer connecting later.
        #expect(Self.describe(state.offerRelay(Self.key(50))) == ["open 1 pearirc/relay/v1", "open 2 pearirc/relay/v1"])
        #expect(Self.describe(state.peerConnected(3, remoteKey: Self.key(9))).contains("open 3 pearirc/relay/v1"))
    }

    /// Joining a room nobody else shares says so a moment later, once; the first peer to share it then is announced,
    /// once; a peer found within the moment makes both unnecessary; a join while a peer shares the room says nothing.
    @Test func aJoinAloneIsToldAndTheFirstPeerIsAnnouncedOnce() {
        var state = Self.makeState()
        #expect(Self.describe(state.joined(channel: "#room", nick: "alice", at: Date())).last == "checkAlone")
        #expect(Self.describe(state.aloneCheck(Self.room)) == ["publish notice " + GatewayState.aloneNotice("#room")])
        #expect(state.aloneCheck(Self.room).isEmpty)
        _ = state.peerConnected(1, remoteKey: Self.peerKey)
        let first = Self.describe(state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(Self.key(7))), on: 1))
        #expect(first.filter { $0.hasPrefix("publish notice") } == ["publish notice " + GatewayState.firstPeerNotice("#room")])
        _ = state.peerConnected(2, remoteKey: Self.key(8))
        let second = Self.describe(state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(Self.key(6))), on: 2))
        #expect(!second.contains { $0.hasPrefix("publish notice") })
        let again = Self.describe(state.joined(channel: "#room", nick: "alice", at: Date()))
        #expect(!again.contains { $0.hasPrefix("publish notice") || $0 == "checkAlone" })
    }

    /// A peer that shares the room within the moment after a lonely join: no notice either way.
    @Test func aPeerFoundAtOnceNeedsNoNotice() {
        var state = Self.makeState()
        #expect(Self.describe(state.joined(channel: "#room", nick: "alice", at: Date())).last == "checkAlone")
        _ = state.peerConnected(1, remoteKey: Self.peerKey)
        let paired = Self.describe(state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(Self.key(7))), on: 1))
        #expect(!paired.contains { $0.hasPrefix("publish notice") })
        #expect(state.aloneCheck(Self.room).isEmpty)
    }

    @Test func aPartClosesTheRoomOnEveryPeerAndTheNextJoinAnnouncesItAgain() {
        var state = Self.makeState()
        Self.acknowledge(state.joined(channel: "#room", nick: "alice", at: Date()), into: &state, from: 0)
        _ = state.peerConnected(1, remoteKey: Self.peerKey)
        _ = state.peerConnected(2, remoteKey: Self.key(8))
        _ = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(Self.key(7))), on: 1)
        let parted = state.parted(channel: "#room", reason: "bye", at: Date())
        #expect(Self.describe(parted) == ["append part@4", "save", "undiscover", "close 1 pearirc/room/v1", "close 2 pearirc/room/v1"])
        Self.acknowledge(parted, into: &state, from: 3)
        // (Then the room's beginning, and the alone check: both channels closed with the part.)
        #expect(Self.describe(state.joined(channel: "#room", nick: "alice", at: Date())).dropLast(2)
            == ["append join@5", "save", "discover", "open 1 pearirc/room/v1", "open 2 pearirc/room/v1"])
    }

    @Test func writersLearntFromOnePeerAreGossipedToTheOthers() {
        var state = Self.makeState()
        _ = state.joined(channel: "#room", nick: "alice", at: Date())
        for id: GatewayState.ConnectionID in [1, 2] {
            _ = state.peerConnected(id, remoteKey: Self.key(UInt8(100 + id)))
            _ = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(Self.key(UInt8(40 + id)))), on: id)
        }
        let actions = state.peerEvent(Self.writers([Self.key(60)]), on: 1)
        // Replicated on both connections, announced to the one it did not come from.
        #expect(Self.describe(actions) == ["openReplica 60", "save", "replicate 1 60", "replicate 2 60", "writers 2 60"])
    }

    // MARK: - Presence

    static func entry(_ kind: RoomEntry.Kind, _ text: String, lamport: UInt64) -> [UInt8] {
        RoomEntry(kind: kind, timestamp: 1_000, lamport: lamport, text: text).encoded()
    }

    @Test func aRemoteAuthorIsShownOnTheirFirstSignOfLifeAndLeavesWithTheirProvenConnection() throws {
        var state = Self.makeState()
        _ = state.joined(channel: "#room", nick: "alice", at: Date())
        let bob = Ed25519.randomKeyPair(), bobWriter = Self.key(7)
        let proof = WriterIdentity.entryText(identity: bob, topic: Self.room, writer: bobWriter)
        let read = state.blocksRead(
            Self.room, writer: bobWriter, from: 0,
            blocks: [Self.entry(.identity, proof, lamport: 1), Self.entry(.nick, "bob", lamport: 2), Self.entry(.message, "hi", lamport: 3)])
        // bob is now shown under "bob": the nick is his here for good, and the catalogue saves it.
        #expect(Self.describe(read) == ["publish joined #room bob", "publish line #room <bob> hi", "save"])
        // Bob's connection claimed his writer; when it ends, he leaves (his log proved an identity that connection
        // proved too).
        _ = state.connect(1, remoteKey: Self.key(0xB0), proving: [bob])
        _ = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(bobWriter)), on: 1)
        #expect(Self.describe(state.peerDisconnected(1)) == ["publish left #room Connection gone"])
    }

    /// A state whose user is in `#room` with bob, whose writer (key 7) proved his identity and joined.
    static func roomWithProvenBob() -> (state: GatewayState, bob: Ed25519.KeyPair, writer: [UInt8]) {
        var state = Self.makeState()
        _ = state.joined(channel: "#room", nick: "alice", at: Date())
        let bob = Ed25519.randomKeyPair(), bobWriter = Self.key(7)
        _ = state.blocksRead(
            Self.room, writer: bobWriter, from: 0,
            blocks: [
                Self.entry(.identity, WriterIdentity.entryText(identity: bob, topic: Self.room, writer: bobWriter), lamport: 1),
                Self.entry(.join, "", lamport: 2),
            ])
        return (state, bob, bobWriter)
    }

    /// A peer's connection replaced by a newer one to the same peer (a reconnect, or two dials at once): the old one's
    /// end does not make the person leave while the new one is there.
    @Test func aReplacedConnectionDoesNotMakeItsPersonLeave() {
        var (state, bob, bobWriter) = Self.roomWithProvenBob()
        for id: GatewayState.ConnectionID in [1, 2] {
            _ = state.connect(id, remoteKey: Self.key(0xB0), proving: [bob])
            _ = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(bobWriter)), on: id)
        }
        #expect(state.peerDisconnected(1).isEmpty, "bob is still connected through connection 2")
        #expect(Self.describe(state.peerDisconnected(2)) == ["publish left #room Connection gone"])
    }

    /// What a room already held when the gateway starts is history: restoring publishes nothing, and presence starts
    /// empty; the room is looked up again because our user was in it.
    @Test func restoringARoomPublishesNothing() {
        var state = Self.makeState()
        #expect(Self.describe(state.writersRestored(Self.room, writers: [Self.key(7)])) == ["openReplica 7", "save"])
        // The shell reads the replica's stored blocks before the join is restored.
        let read = state.blocksRead(
            Self.room, writer: Self.key(7), from: 0, blocks: [Self.entry(.join, "", lamport: 1), Self.entry(.message, "old", lamport: 2)])
        #expect(read.isEmpty)
        #expect(Self.describe(state.restoredJoin(Self.room)) == ["discover"])
        #expect(state.history(Self.room).map(\.text) == ["old"])
        // Our user joins: no one is shown until they show a sign of life.
        #expect(!Self.describe(state.joined(channel: "#room", nick: "alice", at: Date())).contains { $0.hasPrefix("publish joined") })
    }

    @Test func aConnectionClaimingSomeoneElsesWriterCannotMakeThemLeave() {
        var (state, _, bobWriter) = Self.roomWithProvenBob()
        _ = state.peerConnected(1, remoteKey: Self.peerKey)
        _ = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(bobWriter)), on: 1)
        #expect(state.peerDisconnected(1).isEmpty)
    }

    /// A writer that proved no identity (another implementation's peer) leaves when the last connection claiming it
    /// ends: it has no identity for a spoofer to borrow.
    @Test func anUnprovenWriterLeavesWithTheLastConnectionClaimingIt() {
        var state = Self.makeState()
        _ = state.joined(channel: "#room", nick: "alice", at: Date())
        let writer = Self.key(7)
        #expect(Self.describe(state.blocksRead(Self.room, writer: writer, from: 0, blocks: [Self.entry(.join, "", lamport: 1)]))
            == ["publish joined #room pear-\(ZBase32.encode(writer).prefix(8))"])
        for id: GatewayState.ConnectionID in [1, 2] {
            _ = state.peerConnected(id, remoteKey: Self.key(UInt8(100 + id)))
            _ = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: Self.room.bytes, handshake: Self.hello(writer)), on: id)
        }
        #expect(state.peerDisconnected(1).isEmpty, "still claimed by connection 2")
        #expect(Self.describe(state.peerDisconnected(2)) == ["publish left #room Connection gone"])
    }

    /// Our log found behind: the room is told once, each join is told again, sending is refused with the reason, and
    /// the room is told when the log is whole.
    @Test func aRoomWhoseLogIsBeingRecoveredSaysSo() {
        var state = Self.makeState()
        #expect(state.ownLogBehind(Self.room, have: 0, expected: 9).isEmpty, "not joined yet: nobody to tell")
        _ = state.joined(channel: "#room", nick: "me", at: Date())
        #expect(Self.describe(state.recoveryNoticeOnJoin(Self.room)) == [
            "publish notice \(GatewayState.recoveryNotice(channel: "#room", have: 0, expected: 9))"
        ])
        #expect(state.ownLogBehind(Self.room, have: 3, expected: 9).isEmpty, "told once")
        #expect(state.recoveryRefusal(Self.room)?.contains("holds 3 of 9 entries") == true)
        #expect(Self.describe(state.ownLogRecovered(Self.room)) == [
            "publish notice Your log of #room is whole again (recovered from peers): sending works again."
        ])
        #expect(state.recoveryRefusal(Self.room) == nil)
        #expect(state.recoveryNoticeOnJoin(Self.room).isEmpty)
        #expect(state.ownLogRecovered(Self.room).isEmpty)
    }

    /// A line shown before the entry its heads name arrived, with a clock that turns out not to be above it, is withdrawn:
    /// the room is told (an IRC line cannot be taken back) and the history no longer serves it.
    @Test func aLineThatLiedAboutItsOrderIsWithdrawnWithANotice() {
        var state = Self.makeState()
        _ = state.joined(channel: "#room", nick: "me", at: Date())
        let early = RoomEntry(kind: .message, timestamp: 1_000, lamport: 2, heads: [.init(writer: Self.key(7), length: 2)], text: "placed early")
        let shown = state.blocksRead(Self.room, writer: Self.key(8), from: 0, blocks: [Self.entry(.nick, "mallory", lamport: 1), early.encoded()])
        #expect(Self.describe(shown).contains("publish line #room <mallory> placed early"))
        let named = state.blocksRead(
            Self.room, writer: Self.key(7), from: 0, blocks: [Self.entry(.nick, "bob", lamport: 1), Self.entry(.message, "seen", lamport: 3)])
        let withdrawnID = "\(ZBase32.encode(Self.key(8)).prefix(12))-1"
        #expect(Self.describe(named).contains(
            "publish notice Withdrew a line by mallory (\(withdrawnID)) from the history: its clock put it before a line it said it had seen."))
        #expect(state.history(Self.room).map(\.text) == ["seen"])
    }

    /// Petname-style safety: once this gateway has shown "alice" for one writer, a newcomer asking for "alice" is the
    /// one disambiguated, live and in history, even with clocks that place its claim earlier; the holder survives a
    /// restart through the catalogue.
    @Test func aNickShownForSomeoneIsNeverHandedToANewcomer() throws {
        var state = Self.makeState()
        _ = state.joined(channel: "#room", nick: "me", at: Date())
        let real = Self.key(7), fake = Self.key(8)
        let shown = state.blocksRead(
            Self.room, writer: real, from: 0, blocks: [Self.entry(.nick, "alice", lamport: 10), Self.entry(.message, "hi", lamport: 11)])
        #expect(Self.describe(shown) == ["publish joined #room alice", "publish line #room <alice> hi", "save"])
        let fakeTag = ZBase32.encode(fake).prefix(4)
        let impostor = state.blocksRead(
            Self.room, writer: fake, from: 0, blocks: [Self.entry(.nick, "Alice", lamport: 1), Self.entry(.message, "it is me", lamport: 2)])
        #expect(Self.describe(impostor) == ["publish joined #room Alice|\(fakeTag)", "publish line #room <Alice|\(fakeTag)> it is me"])
        #expect(state.history(Self.room).map(\.author.nick) == ["Alice|\(fakeTag)", "alice"])
        // Saved and restored: a restarted gateway that reads the impostor's log first still knows who alice is.
        let saved = try #require(RoomCatalogue.rooms(of: state).first?.nicks)
        var restarted = Self.makeState()
        restarted.nickHoldersRestored(Self.room, holders: saved.compactMapValues { ZBase32.decode($0) })
        _ = restarted.blocksRead(Self.room, writer: fake, from: 0, blocks: [Self.entry(.nick, "Alice", lamport: 1)])
        _ = restarted.blocksRead(Self.room, writer: real, from: 0, blocks: [Self.entry(.nick, "alice", lamport: 10)])
        #expect(restarted.rooms[Self.room]?.state.displayNick(for: real) == "alice")
        #expect(restarted.rooms[Self.room]?.state.displayNick(for: fake) == "Alice|\(fakeTag)")
    }

    @Test func nothingIsPublishedForARoomOurUserIsNotIn() {
        var state = Self.makeState()
        #expect(state.blocksRead(Self.room, writer: Self.key(7), from: 0, blocks: [Self.entry(.message, "hi", lamport: 1)]).isEmpty)
        // ...but the line is in the room's history.
        #expect(state.history(Self.room).map(\.text) == ["hi"])
    }
}

extension GatewayState {
    /// A peer connects and proves `people` (its `pearirc/people/v1` hello, as its gateway sends it: it dialled us, our
    /// handshake hash is empty in these tests); the actions both made.
    mutating func connect(_ id: ConnectionID, remoteKey: [UInt8], proving people: [Ed25519.KeyPair]) -> [GatewayAction] {
        let connected = peerConnected(id, remoteKey: remoteKey)
        let hello = PeopleWire.hello(people: people, handshakeHash: [], weAreInitiator: true)
        return connected + peerEvent(.opened(protocol: PeopleWire.protocolName, id: [], handshake: hello.compactEncoded()), on: id)
    }
}
