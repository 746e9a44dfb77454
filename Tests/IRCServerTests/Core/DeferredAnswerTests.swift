import Foundation
import IRCServer
import Testing

@Suite struct DeferredAnswerTests {
    static func configure(_ configuration: inout IRCServerConfiguration) {
        OperatorTests.configure(&configuration)
    }

    /// kill.py testKill: a PING after OPER is answered after the OPER verdict, not before.
    @Test func linesAfterACommandWaitingForAnAnswerAreHeld() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice")
        server.send(alice, "OPER root secret")
        #expect(server.send(alice, "PING :after").isEmpty, "held until the OPER check answers")
        let lines = server.answerOperatorChecks(for: alice) { $1 == "hash-of-" + $0 }
        #expect(lines.first?.contains(" 381 ") == true)
        #expect(lines.last == ":irc.test PONG irc.test after")
    }

    @Test func aBackendThatNeverAnswersDoesNotFreezeTheClient() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice")
        server.send(alice, "OPER root secret")
        server.send(alice, "PING :late")
        server.advance(31)
        server.record(server.state.tick(now: server.now))
        #expect(server.inbox(alice) == [":irc.test PONG irc.test late"])
    }

    @Test func aLabeledJoinWithHistoryIsLabeledAsAWhole() {
        var server = ServerHarness { $0.historyOnJoin = 10 }
        let alice = server.register("alice", caps: ["batch", "labeled-response"])
        #expect(server.send(alice, "@label=j JOIN #c").isEmpty, "the JOIN replies wait for the history")
        guard case .fetchHistory(let id, _, let batchType, let target, let onJoin) = server.otherActions.last else {
            Issue.record("no history request")
            return
        }
        server.record(server.state.historyReady(id, lines: [], batchType: batchType, target: target, onJoin: onJoin, now: server.now))
        let lines = server.inbox(alice)
        #expect(lines.first == "@label=j :irc.test BATCH +label1 labeled-response")
        #expect(!lines.contains { $0.contains("chathistory") }, "no history, no history batch inside the label")
        #expect(lines.contains { $0.hasSuffix(" JOIN #c") })
        #expect(lines.last == ":irc.test BATCH -label1")
    }
}
