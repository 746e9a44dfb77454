import Foundation
import IRCServer
import Testing

@Suite struct WhowasTests {
    @Test func remembersQuitsAndNickChangesNewestFirst() {
        var server = ServerHarness()
        let alice = server.register("alice")
        let bob = server.register("bob")
        server.send(bob, "NICK robert")
        server.send(bob, "QUIT :bye")
        let carol = server.register("bob")
        server.send(carol, "QUIT")
        let lines = server.send(alice, "WHOWAS bob")
        #expect(lines.with("314").count == 2)
        #expect(lines.with("314").first == ":irc.test 314 alice bob ~bob 127.0.0.1 * :bob real")
        #expect(lines.last == ":irc.test 369 alice bob :End of WHOWAS")
        #expect(server.send(alice, "WHOWAS bob 1").with("314").count == 1)
        #expect(server.send(alice, "WHOWAS robert").with("314").count == 1)
        #expect(server.send(alice, "WHOWAS rob*").with("314").count == 1)
        #expect(server.send(alice, "WHOWAS nobody") == [
            ":irc.test 406 alice nobody :There was no such nickname", ":irc.test 369 alice nobody :End of WHOWAS",
        ])
        #expect(server.send(alice, "WHOWAS") == [":irc.test 431 alice :No nickname given"])
    }

    @Test func historyIsBounded() {
        var server = ServerHarness { $0.whowasLength = 3 }
        let alice = server.register("alice")
        for index in 0..<10 {
            let id = server.register("user\(index)")
            server.send(id, "QUIT")
        }
        #expect(server.send(alice, "WHOWAS user*").with("314").count == 3)
        #expect(server.send(alice, "WHOWAS user6").with("406").count == 1)
        #expect(server.send(alice, "WHOWAS user9").with("314").count == 1)
    }
}
