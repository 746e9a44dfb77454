import Foundation
import IRCServer
import Testing

/// Durable acknowledgement (`channelLinesAwaitStorage`): a channel line is seen by nobody, its sender's echo
/// included, until the backend says it is stored; a line that could not be stored is an error for its sender only.
@Suite struct StoredLinesTests {
    static func server() -> ServerHarness {
        ServerHarness { $0.channelLinesAwaitStorage = true }
    }

    /// The tokens of the lines handed to the backend to store, in order, and forgets them.
    static func storeRequests(_ server: inout ServerHarness) -> [(token: UInt64, text: String, answersLate: Bool)] {
        defer { server.otherActions.removeAll { if case .storeLine = $0 { true } else { false } } }
        return server.otherActions.compactMap { action in
            guard case .storeLine(_, let token, .message(_, _, _, let text, _, _), let answersLate, _) = action else { return nil }
            return (token, text, answersLate)
        }
    }

    @Test func aLineIsShownOnlyOnceStoredAndBurstsAreNotHeldUp() {
        var server = Self.server()
        let alice = server.register("alice", caps: ["echo-message"])
        let bob = server.register("bob")
        server.send(alice, "JOIN #room")
        server.send(bob, "JOIN #room")
        server.inbox(alice)
        server.inbox(bob)
        // Two lines and a PING: the PING is answered at once (nothing waits), the lines are shown to nobody yet.
        #expect(server.send(alice, "PRIVMSG #room :one").isEmpty)
        #expect(server.send(alice, "PRIVMSG #room :two").isEmpty)
        #expect(server.send(alice, "PING :still here").with("PONG").count == 1)
        #expect(server.inbox(bob).isEmpty)
        let requests = Self.storeRequests(&server)
        #expect(requests.map(\.text) == ["one", "two"])
        #expect(requests.allSatisfy { !$0.answersLate })
        #expect(!server.backendRequests.contains { if case .message = $0 { true } else { false } },
            "a stored line is not also handed over as a plain request")
        // Stored: the room gets it, the sender gets the echo.
        server.record(server.state.lineStored(requests[0].token, failure: nil, now: server.now))
        #expect(server.inbox(bob).map { $0.hasSuffix("PRIVMSG #room one") } == [true])
        #expect(server.inbox(alice).map { $0.hasSuffix("PRIVMSG #room one") } == [true])
        // A token answered twice, or never issued, changes nothing.
        server.record(server.state.lineStored(requests[0].token, failure: nil, now: server.now))
        server.record(server.state.lineStored(999, failure: nil, now: server.now))
        #expect(server.inbox(bob).isEmpty && server.inbox(alice).isEmpty)
    }

    @Test func aLineThatCannotBeStoredIsAnErrorForItsSenderOnly() {
        var server = Self.server()
        let alice = server.register("alice", caps: ["echo-message", "standard-replies"])
        let carol = server.register("carol", caps: ["echo-message"])
        let bob = server.register("bob")
        for client in [alice, carol, bob] { server.send(client, "JOIN #room") }
        for client in [alice, carol, bob] { server.inbox(client) }
        server.send(alice, "PRIVMSG #room :lost")
        server.send(carol, "NOTICE #room :lost too")
        let requests = Self.storeRequests(&server)
        for request in requests { server.record(server.state.lineStored(request.token, failure: "the disk is full", now: server.now)) }
        #expect(server.inbox(alice) == [
            ":irc.test FAIL PRIVMSG MESSAGE_NOT_STORED #room :Your message to #room was not stored, so nobody got it: the disk is full"
        ])
        #expect(server.inbox(carol) == [
            ":irc.test NOTICE carol :Your message to #room was not stored, so nobody got it: the disk is full"
        ])
        #expect(server.inbox(bob).isEmpty)
    }

    /// A labeled line's echo is its labeled answer, sent once stored; the sender's next command waits for it, so
    /// replies keep the order of the commands.
    @Test func aLabeledLineIsAnsweredOnceStored() {
        var server = Self.server()
        let alice = server.register("alice", caps: ["echo-message", "labeled-response", "batch", "message-tags"])
        server.send(alice, "JOIN #room")
        server.inbox(alice)
        #expect(server.send(alice, "@label=l1 PRIVMSG #room :labeled").isEmpty)
        #expect(server.send(alice, "PING :after").isEmpty, "held behind the labeled line")
        let requests = Self.storeRequests(&server)
        #expect(requests.map(\.answersLate) == [true])
        server.record(server.state.lineStored(requests[0].token, failure: nil, now: server.now))
        let answer = server.inbox(alice)
        #expect(answer.count == 2)
        #expect(answer.first?.contains("label=l1") == true && answer.first?.hasSuffix("PRIVMSG #room labeled") == true, "\(answer)")
        #expect(answer.last?.hasSuffix("PONG irc.test after") == true, "\(answer)")
    }

    /// Without the setting (the standalone server), lines are shown at once, as before.
    @Test func withoutTheSettingLinesAreShownAtOnce() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: ["echo-message"])
        let bob = server.register("bob")
        server.send(alice, "JOIN #room")
        server.send(bob, "JOIN #room")
        server.inbox(bob)
        #expect(server.send(alice, "PRIVMSG #room :now").count == 1)
        #expect(server.inbox(bob).count == 1)
        #expect(server.backendRequests.contains { if case .message = $0 { true } else { false } })
    }
}
