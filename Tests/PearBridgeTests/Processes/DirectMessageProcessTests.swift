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
        // Registered, not joined yet: the line may arrive right after the welcome (kept for the first client), and a
        // wait for the JOIN's end would skip past it.
        try await SwarmRoomProcessTests.register(bob, "bob")
        try await bob.waitFor(containing: "PRIVMSG bob :while you were away", timeout: .seconds(30))
        try await SwarmRoomProcessTests.join(bob, "bob", "#dm")

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

/// Direct messages on the DHT between two gateways that share no room: written to a key, the other gateway is dialled
/// by that key, learns the conversation, and the answer comes back by nick; a line written while it is down arrives
/// when it is back.
@Suite(.serialized) struct DirectMessageSwarmProcessTests {
    static func fullIdentity(of client: LineClient) async throws -> String {
        try await client.send("PRIVMSG PearServ :identity")
        let line = try await client.waitFor(containing: "Your public key: ", timeout: .seconds(10))
        return String(line.components(separatedBy: "Your public key: ").last?.prefix(52) ?? "")
    }

    @Test func aDirectMessageByKeyFindsAGatewaySharingNoRoom() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-dmswarm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (net, ports) = try await SwarmRoomProcessTests.startTestNet()
        let bootstrap = Array(ports.prefix(2))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"), bootstrap: bootstrap)
        var (b, bIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), bootstrap: bootstrap)
        let alice = try await LineClient.connect(port: aIRC, group: group)
        var bob = try await LineClient.connect(port: bIRC, group: group)
        try await SwarmRoomProcessTests.register(alice, "alice")
        try await SwarmRoomProcessTests.register(bob, "bob")
        try await b.waitForOutput(containing: "listening dht")
        let bobKey = try await Self.fullIdentity(of: bob)
        #expect(bobKey.count == 52)

        // Nobody connected to bob yet: kept (RPL_AWAY), and bob's gateway is dialled by its key.
        try await alice.send("PRIVMSG \(bobKey) :hello by key")
        try await alice.waitFor(containing: " 301 alice \(bobKey) :", timeout: .seconds(20))
        let received = try await bob.waitFor(containing: "PRIVMSG bob :hello by key", timeout: .seconds(40))
        #expect(received.hasPrefix(":alice!"))
        // Bob answers by nick: known from the conversation itself.
        try await bob.send("PRIVMSG alice :hello back")
        try await alice.waitFor(containing: "PRIVMSG alice :hello back", timeout: .seconds(30))

        // Bob's gateway goes down; a line for him waits, and arrives once it is back (on a new port: found again).
        await bob.close()
        await b.stop()
        try await alice.send("PRIVMSG \(bobKey) :while you were down")
        (b, bIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), bootstrap: bootstrap)
        bob = try await LineClient.connect(port: bIRC, group: group)
        try await SwarmRoomProcessTests.register(bob, "bob")
        try await bob.waitFor(containing: "PRIVMSG bob :while you were down", timeout: .seconds(60))

        for client in [alice, bob] { await client.close() }
        for process in [a, b] + net { await process.stop() }
        try await group.shutdownGracefully()
    }
}
