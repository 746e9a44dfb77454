import Foundation
import IRCServer
import Testing

@Suite struct LabeledResponseTests {
    static let caps = ["batch", "labeled-response", "echo-message", "message-tags"]

    @Test func noReplyGivesAnAck() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: Self.caps)
        let bob = server.register("bob")
        #expect(server.send(alice, "@label=a1 PONG :x") == ["@label=a1 :irc.test ACK"])
        // Without echo-message, a PRIVMSG has no answer either.
        server.send(alice, "CAP REQ -echo-message")
        #expect(server.send(alice, "@label=a2 PRIVMSG bob :hi") == ["@label=a2 :irc.test ACK"])
        #expect(server.inbox(bob).count == 1)
        #expect(!server.received[bob, default: []].contains { $0.contains("label") })
    }

    @Test func aLineThatFailsToParseStillGetsItsLabel() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: Self.caps)
        // An unknown (unparseable) command: its 421 carries the label.
        let unknown = server.send(alice, "@label=u1 PRIV-MSG bob :hi")
        #expect(unknown.count == 1)
        #expect(unknown.first?.hasPrefix("@label=u1 :irc.test 421 alice PRIV-MSG ") == true)
        // A bad tag key elsewhere on the line: no reply, so an ACK; the label is unescaped and escaped again.
        #expect(server.send(alice, "@label=a\\:b;bad*key=1 PING x") == ["@label=a\\:b :irc.test ACK"])
        // Without labeled-response the label is not echoed.
        let bob = server.register("bob")
        #expect(server.send(bob, "@label=u2 PRIV-MSG x :y").allSatisfy { !$0.contains("label") })
        #expect(IRCTag.value(of: "label", inRawLine: Array("PRIV-MSG x".utf8)) == nil)
        #expect(IRCTag.value(of: "label", inRawLine: Array("@labels=1;label PING".utf8)) == "")
    }

    @Test func oneReplyCarriesTheLabel() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: Self.caps)
        let bob = server.register("bob", caps: ["labeled-response", "message-tags"])
        let echo = server.send(alice, "@label=x PRIVMSG bob :hi")
        #expect(echo.count == 1)
        #expect(echo[0].hasPrefix("@msgid=m-1;label=x "))
        #expect(echo[0].hasSuffix(" PRIVMSG bob hi"))
        #expect(server.inbox(bob).allSatisfy { !$0.contains("label=") }, "only the sender sees its label")
    }

    @Test func severalRepliesAreBatched() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: Self.caps)
        let lines = server.send(alice, "@label=j JOIN #c")
        #expect(lines.first == "@label=j :irc.test BATCH +label1 labeled-response")
        #expect(lines.last == ":irc.test BATCH -label1")
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.hasPrefix("@batch=label1 ") })
        #expect(lines.contains { $0.hasSuffix(" JOIN #c") })
        #expect(lines.contains { $0.contains(" 366 alice #c ") })
    }

    /// labeled_responses.py testLabeledPrivmsgResponsesToSelf: two copies, only the echo labeled, no batch.
    @Test func aMessageToOneselfLabelsOnlyTheEcho() {
        var server = ServerHarness()
        let alice = server.register("alice", caps: Self.caps)
        let lines = server.send(alice, "@label=s PRIVMSG alice :me")
        #expect(lines.count == 2)
        #expect(lines.filter { $0.contains("label=s") }.count == 1)
        #expect(lines.allSatisfy { $0.hasSuffix(" PRIVMSG alice me") })
    }

    @Test func withoutTheCapabilityTheLabelIsIgnored() {
        var server = ServerHarness()
        let alice = server.register("alice")
        #expect(server.send(alice, "@label=q PING :t") == [":irc.test PONG irc.test t"])
    }
}
