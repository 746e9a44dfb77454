import Foundation
import NIOPosix
import TestVectors
import Testing

/// Direct messages between two `pearircd` processes, as IRC clients use them: `/msg nick` both ways, RPL_AWAY and
/// delivery on return when the other gateway is down, history through CHATHISTORY, restarts of either side.
@Suite(.serialized) struct DirectMessageProcessTests {
    @Test func directMessagesCrossBothWaysAndSurviveEitherSideStopping() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-dm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"))
        var (b, bIRC, bPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), peers: [aPeer])

        var alice = try await LineClient.connect(port: aIRC, group: group)
        var bob = try await LineClient.connect(port: bIRC, group: group)
        try await ThreeGatewayProcessTests.register(alice, "alice", channel: "#dm")
        try await ThreeGatewayProcessTests.register(bob, "bob", channel: "#dm")
        // Each sees the other in the room (their nicks and identities are known).
        try await alice.send("PRIVMSG #dm :alice is here")
        try await bob.waitFor(containing: "PRIVMSG #dm :alice is here", timeout: .seconds(30))
        try await bob.send("PRIVMSG #dm :bob is here")
        try await alice.waitFor(containing: "PRIVMSG #dm :bob is here", timeout: .seconds(30))

        try await alice.send("PRIVMSG bob :just between us")
        let received = try await bob.waitFor(containing: "PRIVMSG bob :just between us", timeout: .seconds(30))
        #expect(received.hasPrefix(":alice!"))
        try await bob.send("PRIVMSG alice :\u{1}ACTION nods\u{1}")
        try await alice.waitFor(containing: "PRIVMSG alice :\u{1}ACTION nods\u{1}", timeout: .seconds(30))

        // Bob's gateway stops: alice is told her line is kept, and bob gets it when his gateway is back.
        await bob.close()
        await b.stop()
        try await alice.waitFor(containing: " PART #dm ", timeout: .seconds(30))
        try await alice.send("PRIVMSG bob :while you were away")
        try await alice.waitFor(containing: " 301 alice bob :", timeout: .seconds(30))
        (b, bIRC, bPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), peers: [aPeer])
        bob = try await LineClient.connect(port: bIRC, group: group)
        try await ThreeGatewayProcessTests.register(bob, "bob", channel: "#dm")
        try await bob.waitFor(containing: "PRIVMSG bob :while you were away", timeout: .seconds(30))

        // Alice's gateway stops and restarts (dialling bob's): the history is all there, and the talk goes on.
        await alice.close()
        await a.stop()
        (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"), peers: [bPeer])
        alice = try await LineClient.connect(port: aIRC, group: group)
        try await alice.send("CAP REQ :batch draft/chathistory server-time message-tags")
        try await alice.send("CAP END")
        try await ThreeGatewayProcessTests.register(alice, "alice", channel: "#dm")
        try await alice.send("CHATHISTORY LATEST bob * 10")
        for text in ["just between us", "\u{1}ACTION nods\u{1}", "while you were away"] {
            try await alice.waitFor(containing: " :\(text)", timeout: .seconds(30))
        }
        try await alice.waitFor(containing: "BATCH -", timeout: .seconds(30))
        try await bob.waitFor(containing: " JOIN #dm", timeout: .seconds(30))
        try await bob.send("PRIVMSG alice :welcome back")
        try await alice.waitFor(containing: "PRIVMSG alice :welcome back", timeout: .seconds(30))

        for client in [alice, bob] { await client.close() }
        for process in [a, b] { await process.stop() }
        try await group.shutdownGracefully()
    }
}
