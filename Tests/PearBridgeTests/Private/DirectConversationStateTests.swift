import CompactEncoding
import Foundation
import HyperLog
import Sodium
import SwarmEngine
import Testing

@testable import PearBridge

/// A direct conversation in `GatewayState`, fed inputs directly: its channel only with its person, its blocks sealed,
/// and only its person's proven log shown.
@Suite struct DirectConversationStateTests {
    typealias Describe = GatewayStateTests

    let alice = Ed25519.randomKeyPair()
    let bob = Ed25519.randomKeyPair()
    let carol = Ed25519.randomKeyPair()
    static let aliceWriter = GatewayStateTests.key(1)
    static let bobWriter = GatewayStateTests.key(2)

    /// Alice's state with her conversation with bob open and ready.
    func aliceState() throws -> (GatewayState, DirectConversationKeys, RoomTopic) {
        var state = GatewayState(identity: alice, fold: GatewayStateTests.fold)
        state.setLocalNick("alice")
        let keys = try DirectConversationKeys(ourKeyPair: alice, counterpart: bob.publicKey)
        _ = state.conversationOpened(keys, ownWriter: Self.aliceWriter)
        _ = state.conversationReady(RoomTopic(bytes: keys.topic)!)
        return (state, keys, RoomTopic(bytes: keys.topic)!)
    }

    /// Blocks of a log as its owner's gateway writes them: the identity proof, a nick, then `texts`, sealed with `key`.
    static func sealedLog(
        by person: Ed25519.KeyPair, writer: [UInt8], topic: RoomTopic, key: [UInt8], nick: String, texts: [String]
    ) throws -> [[UInt8]] {
        var entries = [
            RoomEntry(kind: .identity, timestamp: 1, lamport: 1, text: WriterIdentity.entryText(identity: person, topic: topic, writer: writer)),
            RoomEntry(kind: .nick, timestamp: 1, lamport: 2, text: nick),
        ]
        for (offset, text) in texts.enumerated() {
            entries.append(RoomEntry(kind: .message, timestamp: 2, lamport: UInt64(3 + offset), text: text))
        }
        return try entries.map { try SealedEntry.seal($0.encoded(), key: key, writer: writer) }
    }

    /// A gateway's transport key: connections run under it, never under its people's identities.
    static let bobsGateway = GatewayStateTests.key(0xB0)

    @Test func theChannelOpensOnlyWithItsPersonAndAnswersTheirOpen() throws {
        var (state, keys, topic) = try aliceState()
        _ = state.connect(1, remoteKey: carol.publicKey, proving: [carol])
        let hello = GatewayStateTests.hello(Self.bobWriter)
        // Carol learned the topic somehow: refused on both protocols, and nothing opened for her.
        #expect(Describe.describe(state.peerEvent(.opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: hello), on: 1))
            == ["reject 1 \(DirectWire.protocolName)"])
        #expect(Describe.describe(state.peerEvent(.opened(protocol: RoomWire.protocolName, id: keys.topic, handshake: hello), on: 1))
            == ["reject 1 \(RoomWire.protocolName)"])
        // A connection under bob's key that proves no one is not bob's: the key is a gateway's, not a person's.
        #expect(Describe.describe(state.peerConnected(3, remoteKey: bob.publicKey)) == ["open 3 \(PeopleWire.protocolName)"])
        #expect(Describe.describe(state.peerEvent(.opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: hello), on: 3))
            == ["reject 3 \(DirectWire.protocolName)"])
        // Bob's gateway proves him: our open goes at once, and pairing replicates both logs (no writer lists on this
        // channel).
        #expect(Describe.describe(state.connect(2, remoteKey: Self.bobsGateway, proving: [bob]))
            == ["open 2 \(PeopleWire.protocolName)", "people 2 \(bob.publicKey[0])", "open 2 \(DirectWire.protocolName)"])
        // Found: no longer sought by key.
        #expect(Describe.describe(state.peerEvent(.opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: hello), on: 2))
            == ["unseek \(bob.publicKey[0])", "replicate 2 1", "openReplica 2", "save", "replicate 2 2"])
        #expect(state.canReach(bob.publicKey))
        #expect(state.rooms[topic]?.writers.sorted == [Self.aliceWriter, Self.bobWriter].sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test func anOpenForAConversationNotHeldYetAsksTheShellToOpenItAndAnOtherTopicIsRefused() throws {
        var state = GatewayState(identity: alice, fold: GatewayStateTests.fold)
        _ = state.connect(2, remoteKey: Self.bobsGateway, proving: [bob])
        let keys = try DirectConversationKeys(ourKeyPair: alice, counterpart: bob.publicKey)
        let hello = GatewayStateTests.hello(Self.bobWriter)
        // The topic of bob's conversation with carol is not ours with bob.
        let other = try DirectConversationKeys(ourKeyPair: carol, counterpart: bob.publicKey)
        #expect(Describe.describe(state.peerEvent(.opened(protocol: DirectWire.protocolName, id: other.topic, handshake: hello), on: 2))
            == ["reject 2 \(DirectWire.protocolName)"])
        #expect(Describe.describe(state.peerEvent(.opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: hello), on: 2))
            == ["openConversation \(bob.publicKey[0])"])
        _ = state.conversationOpened(keys, ownWriter: Self.aliceWriter)
        // Ready: announced, and the waiting open is answered.
        #expect(Describe.describe(state.conversationReady(RoomTopic(bytes: keys.topic)!))
            == ["discover", "open 2 \(DirectWire.protocolName)", "unseek \(bob.publicKey[0])", "replicate 2 1", "openReplica 2", "save",
                "replicate 2 2"])
    }

    @Test func anIgnoredPersonsConversationIsRefused() throws {
        var (state, keys, _) = try aliceState()
        let refused = bob.publicKey
        state.refusesDirectMessages = { $0.theirs == refused }
        #expect(Describe.describe(state.connect(2, remoteKey: Self.bobsGateway, proving: [bob]))
            == ["open 2 \(PeopleWire.protocolName)", "people 2 \(bob.publicKey[0])"])
        #expect(Describe.describe(state.peerEvent(
            .opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: GatewayStateTests.hello(Self.bobWriter)), on: 2))
            == ["reject 2 \(DirectWire.protocolName)"])
    }

    @Test func onlyTheProvenPersonsLinesShowAndBadBlocksAreSkipped() throws {
        var (state, keys, topic) = try aliceState()
        _ = state.connect(2, remoteKey: Self.bobsGateway, proving: [bob])
        _ = state.peerEvent(.opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: GatewayStateTests.hello(Self.bobWriter)), on: 2)
        let blocks = try Self.sealedLog(by: bob, writer: Self.bobWriter, topic: topic, key: keys.contentKey, nick: "bob", texts: ["hi alice"])
        #expect(Describe.describe(state.blocksRead(topic, writer: Self.bobWriter, from: 0, blocks: blocks)) == ["publish direct <bob> hi alice"])

        // A log claiming carol's identity (a counterpart could name another writer): read, never shown.
        let forged = GatewayStateTests.key(3)
        _ = state.admit([forged], to: topic, from: 2)
        let carolBlocks = try Self.sealedLog(by: carol, writer: forged, topic: topic, key: keys.contentKey, nick: "carol", texts: ["not me"])
        #expect(state.blocksRead(topic, writer: forged, from: 0, blocks: carolBlocks).isEmpty)

        // Truncated, wrong key, not sealed at all, sealed for another writer: skipped, each said.
        let stranger = try DirectConversationKeys(ourKeyPair: carol, counterpart: bob.publicKey)
        let entry = RoomEntry(kind: .message, timestamp: 3, lamport: 9, text: "bad").encoded()
        let bad: [[UInt8]] = [
            [1, 2, 3],
            try SealedEntry.seal(entry, key: stranger.contentKey, writer: Self.bobWriter),
            entry,
            try SealedEntry.seal(entry, key: keys.contentKey, writer: forged),
        ]
        #expect(Describe.describe(state.blocksRead(topic, writer: Self.bobWriter, from: 3, blocks: bad))
            == ["skipped 2#3", "skipped 2#4", "skipped 2#5", "skipped 2#6"])
        #expect(state.history(topic).map(\.text) == ["hi alice"])
    }

    @Test func ourLinesProveTheIdentityOnceAndCarryTheNickAndSeekThePersonWhileUnreachable() throws {
        var (state, keys, _) = try aliceState()
        let seek = "seek \(bob.publicKey[0])"
        let first = state.saidDirect(to: bob.publicKey, kind: .message, text: "hello", messageID: nil, at: Date(timeIntervalSince1970: 5))
        #expect(Describe.describe(first) == ["append identity@1,nick@2,message@3", seek])
        let second = state.saidDirect(to: bob.publicKey, kind: .action, text: "waves", messageID: nil, at: Date(timeIntervalSince1970: 6))
        #expect(Describe.describe(second) == ["append action@4", seek])
        // Nobody else: a conversation that is not open takes nothing.
        #expect(state.saidDirect(to: carol.publicKey, kind: .message, text: "x", messageID: nil, at: Date()).isEmpty)
        // A rename is not written into conversations (the next line carries it); bob reachable now: not sought.
        _ = state.renamed(to: "alicia", at: Date(timeIntervalSince1970: 7))
        _ = state.connect(2, remoteKey: Self.bobsGateway, proving: [bob])
        _ = state.peerEvent(.opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: GatewayStateTests.hello(Self.bobWriter)), on: 2)
        #expect(Describe.describe(state.saidDirect(to: bob.publicKey, kind: .message, text: "again", messageID: nil, at: Date(timeIntervalSince1970: 8)))
            == ["append nick@5,message@6"])
    }

    @Test func aRestoredConversationWhoseLastLineIsOursSeeksThePerson() throws {
        let keys = try DirectConversationKeys(ourKeyPair: alice, counterpart: bob.publicKey)
        let topic = try #require(RoomTopic(bytes: keys.topic))
        var state = GatewayState(identity: alice, fold: GatewayStateTests.fold)
        state.setLocalNick("alice")
        _ = state.conversationOpened(keys, ownWriter: Self.aliceWriter)
        let ours = try Self.sealedLog(by: alice, writer: Self.aliceWriter, topic: topic, key: keys.contentKey, nick: "alice", texts: ["unanswered"])
        _ = state.blocksRead(topic, writer: Self.aliceWriter, from: 0, blocks: ours)
        #expect(Describe.describe(state.conversationReady(topic)) == ["discover", "seek \(bob.publicKey[0])"])

        // Their answer was the last line: nothing to chase.
        var answered = GatewayState(identity: alice, fold: GatewayStateTests.fold)
        _ = answered.conversationOpened(keys, ownWriter: Self.aliceWriter)
        _ = answered.blocksRead(topic, writer: Self.aliceWriter, from: 0, blocks: ours)
        _ = answered.admit([Self.bobWriter], to: topic, from: nil)
        let theirs = try Self.sealedLog(by: bob, writer: Self.bobWriter, topic: topic, key: keys.contentKey, nick: "bob", texts: ["", "", "answer"])
        _ = answered.blocksRead(topic, writer: Self.bobWriter, from: 0, blocks: theirs)
        #expect(answered.history(topic).last?.text == "answer")
        #expect(Describe.describe(answered.conversationReady(topic)) == ["discover"])
    }

    /// A second person of the gateway (an account added while connections are up) has conversations of their own:
    /// the topic of theirs with a person proven on a connection is known, so the peer's open asks the shell to open
    /// *their* conversation; it is kept apart from the first person's, and its lines go to them.
    @Test func aSecondPersonsConversationIsTheirsAlone() throws {
        var (state, aliceKeys, _) = try aliceState()
        _ = state.connect(2, remoteKey: Self.bobsGateway, proving: [bob])
        let dave = Ed25519.randomKeyPair()
        #expect(Describe.describe(state.addPerson(dave)) == ["announcePerson \(dave.publicKey[0])"])
        #expect(state.addPerson(dave).isEmpty, "known already")
        let keys = try DirectConversationKeys(ourKeyPair: dave, counterpart: bob.publicKey)
        let hello = GatewayStateTests.hello(Self.bobWriter)
        let opened = state.peerEvent(.opened(protocol: DirectWire.protocolName, id: keys.topic, handshake: hello), on: 2)
        guard case .openConversation(let conversation)? = opened.first, opened.count == 1 else {
            Issue.record("expected one openConversation, got \(Describe.describe(opened))")
            return
        }
        #expect(conversation == GatewayState.Conversation(ours: dave.publicKey, theirs: bob.publicKey))
        let daveWriter = GatewayStateTests.key(4)
        _ = state.conversationOpened(keys, person: dave.publicKey, ownWriter: daveWriter)
        let topic = try #require(RoomTopic(bytes: keys.topic))
        _ = state.conversationReady(topic)
        #expect(state.conversation(with: bob.publicKey, for: dave.publicKey) == topic)
        #expect(state.conversation(with: bob.publicKey) == RoomTopic(bytes: aliceKeys.topic))
        // Dave's line goes to his log, proven with his key.
        state.setLocalNick("dave", of: dave.publicKey)
        let said = state.saidDirect(to: bob.publicKey, from: dave.publicKey, kind: .message, text: "hi", messageID: nil, at: Date())
        guard case .append(_, let writer, let entries)? = said.first else {
            Issue.record("expected an append, got \(Describe.describe(said))")
            return
        }
        #expect(writer == daveWriter)
        #expect(entries.map(\.kind) == [.identity, .nick, .message] && entries[1].text == "dave")
        #expect(WriterIdentity.verify(entryText: entries[0].text, topic: topic, writer: daveWriter) == dave.publicKey)
        // Bob's answer in it is for dave.
        let blocks = try Self.sealedLog(by: bob, writer: Self.bobWriter, topic: topic, key: keys.contentKey, nick: "bob", texts: ["hi dave"])
        _ = state.admit([Self.bobWriter], to: topic, from: 2)
        let events = state.blocksRead(topic, writer: Self.bobWriter, from: 0, blocks: blocks)
        guard case .publish(.directLine(let to, let line))? = events.first else {
            Issue.record("expected a direct line, got \(Describe.describe(events))")
            return
        }
        #expect(to == dave.publicKey && line.text == "hi dave")
    }
}
