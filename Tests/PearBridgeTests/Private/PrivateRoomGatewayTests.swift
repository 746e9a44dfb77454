import Foundation
import HyperLog
import IRCServer
import Sodium
import Testing

@testable import PearBridge

/// Private rooms between gateways, in process: `JOIN #team secret` meets only those with the same secret (or an
/// invite); a gateway with a wrong secret, none, or the public #team finds and reads nothing; the room survives a
/// restart; a channel name means one room at a time.
@Suite(.serialized) struct PrivateRoomGatewayTests {
    static func join(_ gateway: TestGateway, _ channel: String, as nick: String, key: String?) async {
        await gateway.backend.handle(.joined(channel: channel, nick: nick, key: key))
    }

    static func saw(_ recorder: EventRecorder, _ text: String) -> Bool {
        recorder.seen.withLock { events in
            events.contains { if case .remoteMessage(_, _, _, let body, _, _, _) = $0 { body.contains(text) } else { false } }
        }
    }

    static func notice(_ recorder: EventRecorder, containing text: String) -> Bool {
        recorder.seen.withLock { events in
            events.contains { if case .serviceNotice(_, let body) = $0 { body.contains(text) } else { false } }
        }
    }

    @Test func onlyMembersWithTheSecretChatAndOthersHoldNothingReadable() async throws {
        let a = try await TestGateway.make("pr-a"), b = try await TestGateway.make("pr-b")
        let c = try await TestGateway.make("pr-c"), d = try await TestGateway.make("pr-d")
        defer { for gateway in [a, b, c, d] { gateway.cleanUp() } }
        await Self.join(a, "#team", as: "alice", key: "s3cret")
        await Self.join(b, "#Team", as: "bob", key: "s3cret")
        await Self.join(c, "#team", as: "carol", key: "wrong")
        await Self.join(d, "#team", as: "dave", key: nil)
        for gateway in [a, b, c, d] { await gateway.handle(.joined(channel: "#sync", nick: "x")) }
        await link(a, b)
        await link(a, c)
        await link(a, d)
        await link(b, c)

        await a.say("#team", "for the team only", as: "alice")
        try await b.recorder.message("for the team only")
        await b.say("#team", "bob agrees", as: "bob")
        try await a.recorder.message("bob agrees")
        // A public line after them on the same connections: once c and d have it, they had every chance at the others.
        await a.say("#sync", "sync point", as: "alice")
        await b.say("#sync", "sync point b", as: "bob")
        for gateway in [c, d] {
            try await gateway.recorder.message("sync point")
            try await gateway.recorder.message("sync point b")
        }
        for gateway in [c, d] {
            #expect(!Self.saw(gateway.recorder, "for the team only") && !Self.saw(gateway.recorder, "bob agrees"))
            #expect(await historyTexts(gateway, "#team").isEmpty)
        }
        // Their #team is another room: neither holds a member's log of the private one.
        let aliceWriter = try #require(await a.gateway.ownWriter(channel: "#team"))
        for gateway in [c, d] {
            let keys = try await gateway.gateway.store.allKeys()
            #expect(!keys.contains(aliceWriter))
        }
        #expect(await a.gateway.writerCount(channel: "#team") == 2)

        // Handed alice's log, the wrong secret reads nothing of it.
        let log = try #require(await a.gateway.logs[aliceWriter])
        let wrong = try PrivateRoomKeys(foldedChannelName: "#team", secret: "wrong")
        let right = try PrivateRoomKeys(foldedChannelName: "#team", secret: "s3cret")
        var carolsView = RoomState(topic: wrong.topic, localWriter: GatewayStateTests.key(5), fold: Gateway.fold, contentKey: wrong.contentKey)
        for index in 0..<(try await log.length) {
            let block = try await log.get(index)
            #expect(carolsView.ingest(author: aliceWriter, index: index, block: block) == [.skipped(author: aliceWriter, index: index)])
            #expect(throws: Never.self) { try SealedEntry.open(block, key: right.contentKey, writer: aliceWriter) }
        }
    }

    @Test func anInviteBringsAMemberInAndTheRoomSurvivesARestart() async throws {
        let a = try await TestGateway.make("pri-a"), e = try await TestGateway.make("pri-e"), f = try await TestGateway.make("pri-f")
        defer { for gateway in [a, e, f] { gateway.cleanUp() } }
        await Self.join(a, "#team", as: "alice", key: "s3cret")
        await a.say("#team", "before the invite", as: "alice")
        let service = PearServ(gateway: a.gateway, connector: nil)
        let answer = await service.handle("invite #team")
        #expect(answer.count == 3)
        let invite = try #require(answer.dropFirst().first)
        #expect(invite.hasPrefix("pearirc:"))
        #expect(await service.handle("invite #elsewhere").first?.contains("is not a private room you are in") == true)

        // E accepts it with PearServ, then joins the channel without a key.
        let eService = PearServ(gateway: e.gateway, connector: nil)
        #expect(await eService.handle("accept \(invite)") == ["Accepted: /join #team to enter the private room."])
        #expect(await eService.handle("accept pearirc:xyz").first?.hasPrefix("Not accepted: ") == true)
        await Self.join(e, "#team", as: "erin", key: nil)
        // F joins with the invite as the channel key.
        await Self.join(f, "#team", as: "fred", key: invite)
        await link(a, e)
        await link(a, f)
        try await waitUntil("e and f have the history") {
            let (atE, atF) = (await historyTexts(e, "#team"), await historyTexts(f, "#team"))
            return atE == ["before the invite"] && atF == ["before the invite"]
        }
        await e.say("#team", "erin is in", as: "erin")
        try await a.recorder.message("erin is in")
        try await f.recorder.message("erin is in")

        // E restarts: still in the private room (the catalogue keeps its root, never the secret), under its name.
        await e.stop()
        let catalogue = try String(contentsOf: e.directory.file("rooms.json"), encoding: .utf8)
        #expect(!catalogue.contains("s3cret") && catalogue.contains("privateRoot"))
        let e2 = try await TestGateway.make("pri-e", directory: e.directory)
        defer { e2.cleanUp() }
        await e2.gateway.ready()
        #expect(await historyTexts(e2, "#team") == ["before the invite", "erin is in"])
        await Self.join(e2, "#team", as: "erin", key: nil)
        await link(a, e2)
        await a.say("#team", "welcome back erin", as: "alice")
        try await e2.recorder.message("welcome back erin")
    }

    @Test func aChannelNameMeansOneRoomAtATime() async throws {
        let d = try await TestGateway.make("prn-d")
        defer { d.cleanUp() }
        await Self.join(d, "#team", as: "dave", key: nil)
        let publicWriter = await d.gateway.ownWriter(channel: "#team")
        // A keyed join reaches the gateway only when no client of ours is in the channel (the IRC core refuses one
        // with another key meanwhile): the public room, still joined (clients gone, or a restart), is left for it.
        await Self.join(d, "#team", as: "dave", key: "s3cret")
        let privateWriter = await d.gateway.ownWriter(channel: "#team")
        #expect(privateWriter != nil && privateWriter != publicWriter)
        #expect(await d.gateway.rooms.map(\.channel) == ["#team"])
        // A join without a key enters the room the channel is (the private one), and lines go there.
        await Self.join(d, "#team", as: "dave", key: nil)
        #expect(await d.gateway.ownWriter(channel: "#team") == privateWriter)
        await d.say("#team", "in private", as: "dave")
        #expect(await historyTexts(d, "#team") == ["in private"])
        // Parted, the name is free: a plain join is the public room again, and the private line is not in it.
        await d.handle(.parted(channel: "#team", nick: "dave", reason: ""))
        await d.say("#team", "after parting", as: "dave")
        await Self.join(d, "#team", as: "dave", key: nil)
        #expect(await d.gateway.ownWriter(channel: "#team") == publicWriter)
        #expect(await historyTexts(d, "#team").isEmpty, "a line for a room left is refused, not written into another")
    }
}
