import Foundation
import Testing

@testable import IRCServer

/// Channels shared with servers that do not obey this one refuse the modes they cannot enforce.
@Suite struct ChannelModePolicyTests {
    static func gatewayLike() -> ServerHarness {
        ServerHarness {
            $0.channelModes = ChannelModePolicy(
                defaults: ["n"], refused: ["t", "m", "i", "k", "l", "b"], refusalReason: "cannot be enforced here")
        }
    }

    @Test func newChannelsStartWithoutTopicLockAndAnyoneSetsTheTopic() {
        var server = Self.gatewayLike()
        let alice = server.register("alice"), bob = server.register("bob")
        server.send(alice, "JOIN #room")
        server.send(bob, "JOIN #room")
        #expect(server.send(bob, "MODE #room").first == ":irc.test 324 bob #room +n")
        #expect(server.send(bob, "TOPIC #room :set by a non-operator").contains { $0.hasSuffix("TOPIC #room :set by a non-operator") })
    }

    @Test(arguments: ["+t", "+m", "+i", "+k secret", "+l 5", "+b bad!*@*"])
    func unenforceableModesAreRefused(_ change: String) {
        var server = Self.gatewayLike()
        let alice = server.register("alice")
        server.send(alice, "JOIN #room")
        let flag = change.dropFirst().prefix(1)
        #expect(server.send(alice, "MODE #room \(change)") == [":irc.test 472 alice \(flag) :cannot be enforced here"])
        #expect(server.send(alice, "MODE #room").first == ":irc.test 324 alice #room +n")
    }

    @Test func modesThatStayLocalStillWorkAndCHANMODESOffersOnlyThose() {
        var server = Self.gatewayLike()
        let alice = server.register("alice")
        server.send(alice, "JOIN #room")
        #expect(server.send(alice, "MODE #room +s") == [":alice!~alice@127.0.0.1 MODE #room +s"])
        let support = server.send(alice, "VERSION").first { $0.contains("CHANMODES=") } ?? ""
        #expect(support.contains("CHANMODES=,,,ns"))
        // The default policy is unchanged.
        var plain = ServerHarness()
        let bob = plain.register("bob")
        plain.send(bob, "JOIN #c")
        #expect(plain.send(bob, "MODE #c").first == ":irc.test 324 bob #c +nt")
    }
}
