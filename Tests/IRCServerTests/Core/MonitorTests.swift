import Foundation
import IRCServer
import Testing

@Suite struct MonitorTests {
    @Test func reportsOnlineAndOfflineAndListsTargets() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        #expect(server.send(alice, "MONITOR + bob,carol") == [
            ":irc.test 730 alice bob!~bob@127.0.0.1", ":irc.test 731 alice carol",
        ])
        let carol = server.register("carol")
        #expect(server.inbox(alice) == [":irc.test 730 alice carol!~carol@127.0.0.1"])
        server.send(bob, "QUIT")
        #expect(server.inbox(alice) == [":irc.test 731 alice bob"])
        server.send(carol, "NICK caroline")
        #expect(server.inbox(alice) == [":irc.test 731 alice carol"])
        #expect(server.send(alice, "MONITOR L") == [":irc.test 732 alice bob,carol", ":irc.test 733 alice :End of MONITOR list"])
        #expect(server.send(alice, "MONITOR S") == [":irc.test 731 alice bob,carol"])
        server.send(alice, "MONITOR - bob")
        #expect(server.send(alice, "MONITOR L") == [":irc.test 732 alice carol", ":irc.test 733 alice :End of MONITOR list"])
        server.send(alice, "MONITOR C")
        #expect(server.send(alice, "MONITOR L") == [":irc.test 733 alice :End of MONITOR list"])
        _ = server.register("bob")
        #expect(server.inbox(alice).isEmpty)
    }

    @Test func remoteUsersComeAndGo() {
        var server = ServerHarness()
        let alice = server.register("alice")
        server.send(alice, "MONITOR + carol")
        let remote = RemoteUser(id: "key1", nick: "carol", user: "pear", host: "5db4ysm3.pear", realName: "Carol")
        server.record(server.state.backendEvent(.remoteJoined(channel: "#p2p", user: remote), now: server.now))
        #expect(server.inbox(alice) == [":irc.test 730 alice carol!pear@5db4ysm3.pear"])
        server.record(server.state.backendEvent(.remoteQuit(userID: "key1", reason: "gone"), now: server.now))
        #expect(server.inbox(alice) == [":irc.test 731 alice carol"])
    }

    @Test func theListIsLimited() {
        var server = ServerHarness { $0.monitorLimit = 2 }
        let alice = server.register("alice")
        let lines = server.send(alice, "MONITOR + a,b,c,d")
        #expect(lines.first == ":irc.test 734 alice 2 c,d :Monitor list is full")
        #expect(lines.with("731") == [":irc.test 731 alice a,b"])
    }

    @Test func isupportAdvertisesTheLimit() {
        var server = ServerHarness()
        let id = server.connect()
        server.send(id, "NICK a")
        #expect(server.send(id, "USER a 0 * :A").with("005").joined().contains("MONITOR=100"))
    }
}
