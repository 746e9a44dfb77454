import Foundation
import IRCServer
import Testing

@Suite struct ChatHistoryLatestTests {
    @Test func latestAfterAReferenceAsksForTheNewestEndOfTheWindow() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "JOIN #c")
        server.send(alice, "CHATHISTORY LATEST #c msgid=abc 5")
        guard case .fetchHistory(_, let query, _, _) = server.otherActions.last else {
            Issue.record("no history request")
            return
        }
        #expect(query == .between(
            channel: "#c", from: .timestamp(server.now.addingTimeInterval(1)), to: .messageID("abc"), limit: 5))
    }
}
