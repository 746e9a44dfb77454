import Foundation
import IRCServer
import Testing

/// `IRCServerState.shutdown`: every local client is told why and closed, and nobody hears that anyone quit.
@Suite struct ShutdownTests {
    @Test func everyLocalClientGetsTheErrorThenItsCloseAndNoQuitIsFannedOut() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        let lurker = server.connect(host: "192.0.2.7")
        server.send(lurker, "NICK lurker")
        for id in [alice, bob] { server.send(id, "JOIN #c") }
        server.send(bob, "MONITOR + alice")
        let remote = RemoteUser(id: "key1", nick: "carol", user: "pear", host: "5db4ysm3.pear", realName: "Carol")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#c", user: remote), now: server.now))
        server.backendRequests = []
        for id in [alice, bob, lurker] { server.inbox(id) }

        let actions = server.state.shutdown(reason: "Server shutting down")
        func error(_ id: ClientID, _ host: String) -> [IRCServerAction] {
            [.send(id, IRCMessage(command: .verb("ERROR"), params: ["Closing Link: \(host) (Server shutting down)"])), .close(id)]
        }
        // Exactly an ERROR and then a close for each local client: no QUIT, no MONITOR offline, no backend request.
        #expect(actions == error(alice, "127.0.0.1") + error(bob, "127.0.0.1") + error(lurker, "192.0.2.7"))

        // The disconnections that follow find nobody, so they send nothing either.
        for id in [alice, bob, lurker] {
            #expect(server.state.disconnected(id, reason: "Connection closed", now: server.now).isEmpty)
        }
        server.record(server.state.backendEvent(
            .remoteMessage(channel: "#c", userID: "key1", kind: .privmsg, text: "anyone?", id: "r1", time: server.now),
            now: server.now))
        #expect(server.received.values.allSatisfy { $0.isEmpty })
        #expect(server.backendRequests.isEmpty)
        // A second shutdown has nobody left to tell.
        #expect(server.state.shutdown(reason: "again").isEmpty)
    }

    @Test func theReasonIsTheCallers() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.record(server.state.shutdown(reason: "Restarting for an upgrade"))
        #expect(server.inbox(alice) == ["ERROR :Closing Link: 127.0.0.1 (Restarting for an upgrade)"])
        #expect(server.closed == [alice])
    }
}
