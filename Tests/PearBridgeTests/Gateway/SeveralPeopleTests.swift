import Foundation
import HyperLog
import IRCServer
import Sodium
import Synchronization
import Testing

@testable import PearBridge

/// A gateway that speaks for several people (issue 20: its accounts): each writes to a log of their own in a room,
/// proven theirs by an identity entry, so other gateways show each as a person of their own; their lines are never
/// news to their own gateway's front ends; they come and go one by one; all of it survives a restart.
@Suite(.serialized) struct SeveralPeopleTests {
    static func line(_ recorder: EventRecorder, _ text: String) async throws -> (userID: String, id: String) {
        let event = try await recorder.message(text)
        guard case .remoteMessage(_, let userID, _, _, let id, _, _) = event else { return ("", "") }
        return (userID, id)
    }

    static func joinedNick(_ recorder: EventRecorder, _ userID: String) -> String? {
        recorder.seen.withLock { events in
            events.lazy.compactMap { event -> String? in
                if case .remoteJoined(_, let user) = event, user.id == userID { return user.nick }
                return nil
            }.last
        }
    }

    @Test func twoPeopleOfOneGatewayAreTwoPeopleEverywhere() async throws {
        let bob = Ed25519.randomKeyPair()
        let a = try await TestGateway.make("people-a", people: [bob]), c = try await TestGateway.make("people-c")
        defer { a.cleanUp(); c.cleanUp() }
        let alice = a.gateway.identity.keyPair.publicKey
        let topic = RoomTopic(foldedChannelName: "#team")

        await a.gateway.handle(.join(room: "#team", nick: "alice"))
        await a.gateway.handle(.join(room: "#Team", nick: "bob"), as: bob.publicKey)
        await c.handle(.joined(channel: "#team", nick: "carol"))
        let (toC, _) = await link(a, c)

        await a.gateway.handle(.say(room: "#team", kind: .message, text: "from alice", id: "a.1", time: Date()))
        await a.gateway.handle(.say(room: "#team", kind: .action, text: "waves, from bob", id: "b.1", time: Date()), as: bob.publicKey)
        let fromAlice = try await Self.line(c.recorder, "from alice")
        _ = try await c.recorder.waitFor("bob's action") {
            if case .remoteMessage(_, _, _, let text, _, _, _) = $0 { text == "\u{1}ACTION waves, from bob\u{1}" } else { false }
        }
        let fromBob = c.recorder.seen.withLock { events in
            events.compactMap { event -> String? in
                if case .remoteMessage(_, let userID, _, let text, _, _, _) = event, text.contains("from bob") { return userID }
                return nil
            }.first
        }
        // Two people, each under their own identity and nick, each with their own log in the room.
        #expect(fromAlice.userID == ZBase32.encode(alice))
        #expect(fromBob == ZBase32.encode(bob.publicKey))
        #expect(Self.joinedNick(c.recorder, ZBase32.encode(alice)) == "alice")
        #expect(Self.joinedNick(c.recorder, ZBase32.encode(bob.publicKey)) == "bob")
        let writers = await a.gateway.state.rooms[topic]?.locals
        let aliceWriter = try #require(writers?[alice]?.writer), bobWriter = try #require(writers?[bob.publicKey]?.writer)
        #expect(aliceWriter != bobWriter)
        let proven = await c.gateway.state.rooms[topic]?.state.identities
        #expect(proven?[aliceWriter] == alice && proven?[bobWriter] == bob.publicKey)
        #expect(await c.gateway.writerCount(channel: "#team") == 3)
        #expect(await a.gateway.writerCount(channel: "#team") == 3)
        // History everywhere says who wrote what.
        let atC = await c.history(.latest(channel: "#team", limit: 10)).map { "\($0.source.prefix { $0 != "!" }) \($0.text)" }
        #expect(atC == ["alice from alice", "bob \u{1}ACTION waves, from bob\u{1}"])

        // Carol's answer reaches gateway A; its own people's lines were never news to it.
        await c.say("#team", "hi both", as: "carol")
        _ = try await a.recorder.message("hi both")
        #expect(a.recorder.seen.withLock { events in
            !events.contains { if case .remoteMessage(_, _, _, let text, _, _, _) = $0 { text.contains("from") } else { false } }
                && !events.contains { if case .remoteJoined(_, let user) = $0 { user.id == ZBase32.encode(bob.publicKey) } else { false } }
        })

        // Bob leaves; alice stays in, and her lines still go out.
        await a.gateway.handle(.part(room: "#team", reason: "bye"), as: bob.publicKey)
        _ = try await c.recorder.waitFor("bob leaves") {
            if case .remoteParted(_, let userID, _) = $0 { userID == ZBase32.encode(bob.publicKey) } else { false }
        }
        await a.gateway.handle(.say(room: "#team", kind: .message, text: "still here", id: "a.2", time: Date()))
        _ = try await c.recorder.message("still here")
        // A line for a room the person left is refused, not written.
        await a.gateway.handle(.say(room: "#team", kind: .message, text: "not in it", id: "b.2", time: Date()), as: bob.publicKey)
        #expect(!(await a.gateway.allLines(room: "#team")).contains { $0.text == "not in it" })

        // Bob comes back, then the connection goes: both of gateway A's people leave carol's view.
        await a.gateway.handle(.join(room: "#team", nick: "bob"), as: bob.publicKey)
        await a.gateway.handle(.say(room: "#team", kind: .message, text: "back", id: "b.3", time: Date()), as: bob.publicKey)
        _ = try await c.recorder.message("back")
        let leftBefore = c.recorder.seen.withLock { $0.count { if case .remoteParted = $0 { true } else { false } } }
        toC.disconnect()
        try await waitUntil("both of A's people leave") {
            let gone = c.recorder.seen.withLock { events in
                Set(events.compactMap { event -> String? in
                    if case .remoteParted(_, let userID, "Connection gone") = event { return userID }
                    return nil
                })
            }
            return gone.isSuperset(of: [ZBase32.encode(alice), ZBase32.encode(bob.publicKey)])
        }
        #expect(c.recorder.seen.withLock { $0.count { if case .remoteParted = $0 { true } else { false } } } >= leftBefore + 2)
    }

    @Test func everyPersonsRoomsAndLogsSurviveARestart() async throws {
        let bob = Ed25519.randomKeyPair()
        var a = try await TestGateway.make("people-restart", people: [bob])
        let c = try await TestGateway.make("people-restart-c")
        defer { a.cleanUp(); c.cleanUp() }
        let topic = RoomTopic(foldedChannelName: "#kept")
        // Only bob is in #kept (the room is opened with his log); alice is in #hers.
        await a.gateway.handle(.join(room: "#kept", nick: "bob"), as: bob.publicKey)
        await a.gateway.handle(.say(room: "#kept", kind: .message, text: "before", id: "b.1", time: Date()), as: bob.publicKey)
        await a.gateway.handle(.join(room: "#hers", nick: "alice"))
        let bobWriter = try #require(await a.gateway.state.rooms[topic]?.locals[bob.publicKey]?.writer)
        #expect(await a.gateway.state.rooms[topic]?.locals[a.gateway.identity.keyPair.publicKey] == nil)
        await a.stop()

        a = try await TestGateway.make("people-restart", directory: a.directory, people: [bob])
        await a.gateway.ready()
        let locals = await a.gateway.state.rooms[topic]?.locals
        #expect(locals?[bob.publicKey]?.writer == bobWriter && locals?[bob.publicKey]?.joined == true)
        #expect(locals?.count == 1)
        #expect(await a.gateway.state.rooms[RoomTopic(foldedChannelName: "#hers")]?.joined == true)
        // Still his: carol meets him under his identity, with what he wrote before the restart.
        await c.handle(.joined(channel: "#kept", nick: "carol"))
        await link(a, c)
        await a.gateway.handle(.say(room: "#kept", kind: .message, text: "after", id: "b.2", time: Date()), as: bob.publicKey)
        let after = try await Self.line(c.recorder, "after")
        #expect(after.userID == ZBase32.encode(bob.publicKey))
        try await waitUntil("the history crossed") { await historyTexts(c, "#kept") == ["before", "after"] }
    }

    /// A channel name that means one person's private room here leads nobody else into it: another person's join
    /// without the key is refused (their front ends are told), no log of theirs is made in it and no public room is
    /// opened under the name; with the key they enter it, as a person of their own.
    @Test func anotherPersonEntersAPrivateRoomOnlyWithItsKey() async throws {
        let bob = Ed25519.randomKeyPair()
        let a = try await TestGateway.make("people-private", people: [bob])
        defer { a.cleanUp() }
        let refused = Mutex<[String]>([])
        let subscription = a.gateway.roomEvents.subscribe { event in
            if case .joinRefused(let room, let person, let reason) = event, person == bob.publicKey {
                refused.withLock { $0.append("\(room): \(reason)") }
            }
        }
        defer { _ = subscription }
        let keys = try PrivateRoomKeys(foldedChannelName: "#team", secret: "s3cret")
        await a.gateway.handle(.joinPrivate(room: "#team", nick: "alice", keys: keys))
        await a.gateway.handle(.join(room: "#team", nick: "bob"), as: bob.publicKey)
        #expect(refused.withLock { $0 } == ["#team: #team is a private room here: join it with its key or an invite"])
        #expect(await a.gateway.state.rooms[keys.topic]?.locals[bob.publicKey] == nil)
        #expect(await a.gateway.state.rooms[RoomTopic(foldedChannelName: "#team")] == nil)
        await a.gateway.handle(.say(room: "#team", kind: .message, text: "let me in", id: "b.1", time: Date()), as: bob.publicKey)
        #expect(!(await a.gateway.allLines(room: "#team")).contains { $0.text == "let me in" })

        // Nor its invite, nor its history, nor its latest time.
        #expect(await a.gateway.invite(to: "#team", for: bob.publicKey) == nil)
        #expect(await a.gateway.invite(to: "#team") != nil)
        await a.gateway.handle(.say(room: "#team", kind: .message, text: "for members", id: "a.1", time: Date()))
        #expect(await a.gateway.history(room: "#team", window: .latest(limit: 10), for: bob.publicKey).isEmpty)
        #expect(await a.gateway.latestLineTime(room: "#team", for: bob.publicKey) == nil)
        #expect(await a.gateway.history(room: "#team", window: .latest(limit: 10)).map(\.text) == ["for members"])
        // A keyed join of another room under the name is refused while alice is in it: the name stays hers.
        let other = try PrivateRoomKeys(foldedChannelName: "#team", secret: "another")
        await a.gateway.handle(.joinPrivate(room: "#team", nick: "bob", keys: other), as: bob.publicKey)
        #expect(refused.withLock { $0.count } == 2)
        #expect(await a.gateway.state.rooms[keys.topic]?.locals[a.gateway.identity.keyPair.publicKey]?.joined == true)
        #expect(await a.gateway.state.rooms[other.topic] == nil)

        await a.gateway.handle(.joinPrivate(room: "#team", nick: "bob", keys: keys), as: bob.publicKey)
        let locals = await a.gateway.state.rooms[keys.topic]?.locals
        #expect(locals?[bob.publicKey]?.joined == true && locals?.count == 2)
        await a.gateway.handle(.say(room: "#team", kind: .message, text: "in now", id: "b.2", time: Date()), as: bob.publicKey)
        let line = await a.gateway.allLines(room: "#team").last
        #expect(line?.text == "in now" && line?.author.identity == bob.publicKey)
        #expect(await a.gateway.history(room: "#team", window: .latest(limit: 10), for: bob.publicKey).count == 2)

        // A direct message by key to another person of this gateway is refused, never shown as sent and lost.
        let failure = Mutex<String?>(nil)
        await withCheckedContinuation { done in
            a.gateway.submit(.sayDirect(to: a.gateway.identity.keyPair.publicKey, kind: .message, text: "hi alice", id: nil, time: Date()),
                             as: bob.publicKey) { why in
                failure.withLock { $0 = why }
                done.resume()
            }
        }
        #expect(failure.withLock { $0 }?.contains("uses this gateway too") == true)
    }
}
