import Foundation
import IRCServer
import Testing

@Suite struct OperatorTests {
    static func configure(_ configuration: inout IRCServerConfiguration) {
        configuration.operators = ["root": "hash-of-secret"]
        configuration.operatorPasswordVerifier = { password, hash in hash == "hash-of-" + password }
    }

    @Test func operWithTheRightPasswordGrantsOperatorStatus() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice")
        #expect(server.send(alice, "OPER root secret").isEmpty, "the check is deferred to the shell")
        let granted = server.answerOperatorChecks(for: alice) { $1 == "hash-of-" + $0 }
        #expect(granted == [":irc.test 381 alice :You are now an IRC operator", ":alice!~alice@127.0.0.1 MODE alice +ow"])
        #expect(server.send(alice, "MODE alice") == [":irc.test 221 alice +ow"])
    }

    @Test func wrongOrUnknownCredentialsFail() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice")
        server.send(alice, "OPER root wrong")
        #expect(server.answerOperatorChecks(for: alice) { $1 == "hash-of-" + $0 } == [":irc.test 464 alice :Password incorrect"])
        #expect(server.send(alice, "OPER nobody secret") == [":irc.test 464 alice :Password incorrect"])
        #expect(server.send(alice, "OPER root") == [":irc.test 461 alice OPER :Not enough parameters"])
        var unconfigured = ServerHarness()
        let bob = unconfigured.register("bob")
        #expect(unconfigured.send(bob, "OPER root secret") == [":irc.test 464 bob :Password incorrect"])
    }

    @Test func killNeedsOperatorStatusAndDisconnects() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice")
        let bob = server.register("bob")
        server.send(alice, "JOIN #c")
        server.send(bob, "JOIN #c")
        server.inbox(alice)
        #expect(server.send(bob, "KILL alice :x") == [":irc.test 481 bob :Permission Denied- You're not an IRC operator"])
        server.send(alice, "OPER root secret")
        server.answerOperatorChecks(for: alice) { $1 == "hash-of-" + $0 }
        let seen = server.send(alice, "KILL bob :spam")
        #expect(server.closed.contains(bob))
        #expect(server.inbox(bob).first == ":alice!~alice@127.0.0.1 KILL bob spam")
        #expect(seen.contains(":bob!~bob@127.0.0.1 QUIT :Killed (alice (spam))"))
        #expect(server.send(alice, "KILL nobody :x") == [":irc.test 401 alice nobody :No such nick/channel"])
    }

    @Test func wallopsReachUsersWithModeW() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice")
        let bob = server.register("bob")
        let carol = server.register("carol")
        server.send(bob, "MODE bob +w")
        #expect(server.send(carol, "WALLOPS :hi") == [":irc.test 481 carol :Permission Denied- You're not an IRC operator"])
        server.send(alice, "OPER root secret")
        server.answerOperatorChecks(for: alice) { $1 == "hash-of-" + $0 }
        #expect(server.send(alice, "WALLOPS :hello") == [":alice!~alice@127.0.0.1 WALLOPS hello"])
        #expect(server.inbox(bob) == [":alice!~alice@127.0.0.1 WALLOPS hello"])
        #expect(server.inbox(carol).isEmpty)
    }

    @Test func labeledOperIsAnsweredWhenTheCheckCompletes() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice", caps: ["batch", "labeled-response"])
        #expect(server.send(alice, "@label=op OPER root secret").isEmpty)
        let lines = server.answerOperatorChecks(for: alice) { $1 == "hash-of-" + $0 }
        #expect(lines.first == "@label=op :irc.test BATCH +label1 labeled-response")
        #expect(lines.count == 4)
    }
}
