import Foundation
import IRCServer
import Testing

@Suite struct ChatHistoryLatestTests {
    @Test func latestAfterAReferenceAsksForTheNewestEndOfTheWindow() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "JOIN #c")
        server.send(alice, "CHATHISTORY LATEST #c msgid=abc 5")
        guard case .fetchHistory(_, let query, _, _, _) = server.otherActions.last else {
            Issue.record("no history request")
            return
        }
        #expect(query == .between(
            channel: "#c", from: .timestamp(server.now.addingTimeInterval(1)), to: .messageID("abc"), limit: 5))
    }
}

@Suite struct JoinReplayTests {
    /// The replay after JOIN is sent only when there is history: a brand-new channel gets no empty batch, even inside
    /// a labeled response (irctest `testJoinPartiallyInvalidLabeledResponse` with history on join).
    @Test func aNewChannelGetsNoEmptyHistoryBatch() {
        var server = ServerHarness { $0.historyOnJoin = 50 }
        let alice = server.register("alice", caps: ["batch", "labeled-response", "message-tags"])
        server.send(alice, "@label=j1 JOIN #fresh")
        guard case .fetchHistory(let id, _, let batchType, let target, true)? = server.otherActions.last else {
            Issue.record("expected a join replay fetch")
            return
        }
        server.record(server.state.historyReady(id, lines: [], batchType: batchType, target: target, onJoin: true, now: server.now))
        let out = server.inbox(alice)
        #expect(!out.contains { $0.contains("BATCH +") && $0.contains("chathistory") }, "\(out)")
        // With history, the replay is a batch as before.
        server.send(alice, "JOIN #old")
        guard case .fetchHistory(let id2, _, let type2, let target2, true)? = server.otherActions.last else { return }
        let line = ChatLine(id: "x", time: Date(timeIntervalSince1970: 1), channel: "#old", source: "bob", kind: .privmsg, text: "hi")
        server.record(server.state.historyReady(id2, lines: [line], batchType: type2, target: target2, onJoin: true, now: server.now))
        #expect(server.inbox(alice).contains { $0.contains("BATCH +") && $0.hasSuffix("chathistory #old") })
    }
}
