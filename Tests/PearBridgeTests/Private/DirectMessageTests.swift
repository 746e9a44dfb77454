import Foundation
import HyperLog
import IRCServer
import Sodium
import Synchronization
import Testing

@testable import PearBridge

/// Direct messages between gateways, in process: through the IRC adapter's `carry` (as `/msg nick` reaches it) to the
/// other person's gateway, with history, across restarts, held while the other side is away, refused when ignored,
/// and never held or readable by a third gateway in the same room.
@Suite(.serialized) struct DirectMessageTests {
    static func id(_ gateway: TestGateway) -> String { ZBase32.encode(gateway.gateway.identity.keyPair.publicKey) }

    /// A msgid in the sender's namespace (kept by every gateway, as the IRC core's are).
    static func messageID(_ gateway: TestGateway) -> String {
        RoomState.messageIDNamespace(for: gateway.gateway.identity.keyPair.publicKey) + UUID().uuidString.prefix(8).lowercased()
    }

    /// Sends a private message as the IRC core hands it over; returns what became of it.
    static func send(
        _ from: TestGateway, to target: String, userID: String?, _ text: String, kind: ChatLineKind = .privmsg, nick: String
    ) async -> PrivateDelivery {
        await withCheckedContinuation { done in
            Task {
                await from.backend.carry(
                    .remoteDirectMessage(userID: userID, target: target, nick: nick, kind: kind, text: text, id: messageID(from), time: Date())
                ) { done.resume(returning: $0) }
            }
        }
    }

    static func privateMessage(_ recorder: EventRecorder, _ text: String, timeout: Duration = .seconds(20)) async throws -> BackendEvent {
        try await recorder.waitFor("private message \(text)", timeout: timeout) {
            if case .remotePrivateMessage(_, _, let body, _, _, _) = $0 { body == text } else { false }
        }
    }

    static func sawPrivate(_ recorder: EventRecorder, _ text: String) -> Bool {
        recorder.seen.withLock { events in
            events.contains { if case .remotePrivateMessage(_, _, let body, _, _, _) = $0 { body == text } else { false } }
        }
    }

    static func directHistory(_ gateway: TestGateway, with other: TestGateway, as nick: String) async -> [ChatLine] {
        await gateway.history(.latest(channel: PrivateConversation.remoteKey(userID: id(other), target: nick), limit: 50))
    }

    /// Two gateways in one room, each knowing the other's nick and identity.
    static func meet(_ a: TestGateway, _ b: TestGateway, room: String) async throws {
        await a.handle(.joined(channel: room, nick: "alice"))
        await b.handle(.joined(channel: room, nick: "bob"))
        await link(a, b)
        await a.say(room, "hello \(room)", as: "alice")
        await b.say(room, "hi \(room)", as: "bob")
        try await b.recorder.message("hello \(room)")
        try await a.recorder.message("hi \(room)")
    }

    @Test func aDirectMessageCrossesBothWaysWithHistoryAndSurvivesRestarts() async throws {
        let a = try await TestGateway.make("dm-a"), b = try await TestGateway.make("dm-b")
        defer { a.cleanUp(); b.cleanUp() }
        try await Self.meet(a, b, room: "#dm")

        #expect(await Self.send(a, to: "bob", userID: Self.id(b), "psst bob", nick: "alice") == .sent)
        let atB = try await Self.privateMessage(b.recorder, "psst bob")
        guard case .remotePrivateMessage(let from, .privmsg, _, _, _, _) = atB else { return }
        #expect(from.id == Self.id(a) && from.nick == "alice")
        // Bob answers by nick alone (as a client that does not know alice's id), with an action and a notice.
        #expect(await Self.send(b, to: "alice", userID: nil, "hi alice", nick: "bob") == .sent)
        #expect(await Self.send(b, to: "alice", userID: nil, "\u{1}ACTION waves\u{1}", nick: "bob") == .sent)
        #expect(await Self.send(b, to: "alice", userID: nil, "a notice", kind: .notice, nick: "bob") == .sent)
        try await Self.privateMessage(a.recorder, "hi alice")
        try await Self.privateMessage(a.recorder, "\u{1}ACTION waves\u{1}")
        let notice = try await Self.privateMessage(a.recorder, "a notice")
        if case .remotePrivateMessage(_, let kind, _, _, _, _) = notice { #expect(kind == .notice) }

        // Both sides hold the same conversation, each line addressed as it went.
        try await waitUntil("b holds the whole conversation") { await Self.directHistory(b, with: a, as: "alice").count == 4 }
        let atA = await Self.directHistory(a, with: b, as: "bob")
        #expect(atA.map(\.text) == ["psst bob", "hi alice", "\u{1}ACTION waves\u{1}", "a notice"])
        #expect(atA.map(\.channel) == ["bob", "alice", "alice", "alice"])
        #expect(atA.map(\.id) == (await Self.directHistory(b, with: a, as: "alice")).map(\.id))
        #expect(atA.last?.kind == .notice)

        // Bob's gateway restarts: the conversation is still there, and goes on.
        await b.stop()
        let b2 = try await TestGateway.make("dm-b", directory: b.directory)
        defer { b2.cleanUp() }
        await b2.gateway.ready()
        #expect(await Self.directHistory(b2, with: a, as: "alice").map(\.text) == atA.map(\.text))
        await b2.handle(.joined(channel: "#dm", nick: "bob"))
        await link(a, b2)
        #expect(await Self.send(a, to: "bob", userID: Self.id(b), "after the restart", nick: "alice") == .sent)
        try await Self.privateMessage(b2.recorder, "after the restart")
        #expect(await Self.send(b2, to: Self.id(a), userID: nil, "by key", nick: "bob") == .sent)
        try await Self.privateMessage(a.recorder, "by key")
        // Stored history is not shown again as news.
        #expect(!Self.sawPrivate(b2.recorder, "psst bob"))
    }

    @Test func aMessageWrittenWhileThePersonIsAwayIsHeldAndArrivesWhenTheyAreBack() async throws {
        let a = try await TestGateway.make("dmoff-a"), b = try await TestGateway.make("dmoff-b")
        defer { a.cleanUp(); b.cleanUp() }
        try await Self.meet(a, b, room: "#away")
        await b.stop()
        try await waitUntil("a sees b gone") { !a.gateway.isConnected(b.gateway.identity.keyPair.publicKey) }

        let held = await Self.send(a, to: "bob", userID: Self.id(b), "while you were out", nick: "alice")
        guard case .held(let away) = held else {
            Issue.record("expected the message to be held, got \(held)")
            return
        }
        #expect(away.contains("not online"))
        // Bob's gateway comes back (it never saw this conversation): the line reaches it.
        let b2 = try await TestGateway.make("dmoff-b", directory: b.directory)
        defer { b2.cleanUp() }
        await link(a, b2)
        try await Self.privateMessage(b2.recorder, "while you were out")
    }

    @Test func aThirdGatewayInTheRoomNeitherHoldsNorCanReadTheConversation() async throws {
        let a = try await TestGateway.make("dm3-a"), b = try await TestGateway.make("dm3-b"), c = try await TestGateway.make("dm3-c")
        defer { a.cleanUp(); b.cleanUp(); c.cleanUp() }
        try await Self.meet(a, b, room: "#three")
        await c.handle(.joined(channel: "#three", nick: "carol"))
        await link(a, c)
        await link(b, c)
        await c.say("#three", "carol here", as: "carol")
        try await a.recorder.message("carol here")
        try await b.recorder.message("carol here")

        #expect(await Self.send(a, to: "bob", userID: Self.id(b), "for bob only", nick: "alice") == .sent)
        try await Self.privateMessage(b.recorder, "for bob only")
        // A room line after it, on the same connections: once carol has it, she has had every chance at the other.
        await a.say("#three", "after the secret", as: "alice")
        try await c.recorder.message("after the secret")

        let keys = try DirectConversationKeys(ourKeyPair: a.gateway.identity.keyPair, counterpart: b.gateway.identity.keyPair.publicKey)
        let topic = try #require(RoomTopic(bytes: keys.topic))
        let aliceWriter = try #require(await a.gateway.state.rooms[topic]?.ownWriter)
        let bobWriter = try #require(await b.gateway.state.rooms[topic]?.ownWriter)
        let carolsLogs = await c.gateway.logs
        #expect(carolsLogs[aliceWriter] == nil && carolsLogs[bobWriter] == nil)
        #expect(await c.gateway.state.conversations.isEmpty)
        #expect(!Self.sawPrivate(c.recorder, "for bob only"))
        let carolsKeys = try await c.gateway.store.allKeys()
        #expect(!carolsKeys.contains(aliceWriter) && !carolsKeys.contains(bobWriter))

        // Handed alice's log, carol cannot read it: not with her own conversation's key with either of them.
        let aliceLog = try #require(await a.gateway.logs[aliceWriter])
        let block = try await aliceLog.get(2)
        #expect(throws: SealedEntry.Failure.cannotOpen) { try SealedEntry.open(block, key: keys.contentKey.map { $0 ^ 1 }, writer: aliceWriter) }
        for other in [a, b] {
            let carols = try DirectConversationKeys(ourKeyPair: c.gateway.identity.keyPair, counterpart: other.gateway.identity.keyPair.publicKey)
            #expect(throws: SealedEntry.Failure.cannotOpen) { try SealedEntry.open(block, key: carols.contentKey, writer: aliceWriter) }
        }
        #expect(try RoomEntry.decode(SealedEntry.open(block, key: keys.contentKey, writer: aliceWriter)) != nil)
    }

    @Test func anIgnoredPersonsDirectMessagesAreRefused() async throws {
        let a = try await TestGateway.make("dmign-a"), b = try await TestGateway.make("dmign-b")
        defer { a.cleanUp(); b.cleanUp() }
        try await Self.meet(a, b, room: "#ign")
        let service = PearServ(gateway: b.gateway, connector: nil)
        #expect(await service.handle("ignore alice").first?.hasPrefix("You now ignore alice") == true)

        _ = await Self.send(a, to: "bob", userID: Self.id(b), "you cannot hide", nick: "alice")
        await a.say("#ign", "a room line after it", as: "alice")
        try await waitUntil("b holds alice's room line") { await b.gateway.allLines(room: "#ign").contains { $0.text == "a room line after it" } }
        #expect(await b.gateway.state.conversations.isEmpty)
        #expect(!Self.sawPrivate(b.recorder, "you cannot hide"))
        // Bob cannot write to someone he ignores (nothing would carry it): told so.
        guard case .failed(let why) = await Self.send(b, to: "alice", userID: Self.id(a), "hello?", nick: "bob") else {
            Issue.record("a message to an ignored person must fail")
            return
        }
        #expect(why.contains("you ignore alice"))
        // Unignored: the conversation opens from bob's side, and what alice wrote meanwhile arrives.
        #expect(await service.handle("unignore alice").first?.hasPrefix("You no longer ignore alice") == true)
        try await Self.privateMessage(b.recorder, "you cannot hide")
    }

    @Test func targetsThatNameNobodyOrSomeoneWithoutAnIdentityAreExplained() async throws {
        let a = try await TestGateway.make("dmt-a")
        defer { a.cleanUp() }
        await a.handle(.joined(channel: "#t", nick: "alice"))
        guard case .unknownTarget(let nobody) = await Self.send(a, to: "nobody", userID: nil, "x", nick: "alice") else {
            Issue.record("an unknown nick must be ERR_NOSUCHNICK")
            return
        }
        #expect(nobody.contains("No one called nobody"))
        let ownKey = Self.id(a)
        guard case .unknownTarget = await Self.send(a, to: ownKey, userID: nil, "x", nick: "alice") else {
            Issue.record("our own key is nobody to write to")
            return
        }
        guard case .failed(let unproven) = await Self.send(a, to: "ghost", userID: ZBase32.encode(GatewayStateTests.key(7)), "x", nick: "alice") else {
            Issue.record("a member without a proven identity cannot be written to")
            return
        }
        #expect(unproven.contains("has not proven an identity"))
        // A person's key, never met: stored and held until they come.
        let stranger = ZBase32.encode(Ed25519.randomKeyPair().publicKey)
        guard case .held = await Self.send(a, to: stranger, userID: nil, "hello stranger", nick: "alice") else {
            Issue.record("a message to a key is kept")
            return
        }
    }
}
