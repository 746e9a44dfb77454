import Foundation
import NIOPosix
import TestVectors
import Testing

/// Private rooms between three `pearircd` processes, as IRC clients use them: `JOIN #team secret` on two gateways
/// meets; the third gateway, in the public #team, sees none of it; an invite printed by PearServ brings it in.
@Suite(.serialized) struct PrivateRoomProcessTests {
    @Test func aKeyedChannelIsAPrivateRoomAndAnInviteOpensIt() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-private-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"))
        let (b, bIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), peers: [aPeer])
        let (c, cIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), peers: [aPeer])
        let alice = try await LineClient.connect(port: aIRC, group: group)
        let bob = try await LineClient.connect(port: bIRC, group: group)
        let carol = try await LineClient.connect(port: cIRC, group: group)
        try await SwarmRoomProcessTests.register(alice, "alice")
        try await SwarmRoomProcessTests.register(bob, "bob")
        try await SwarmRoomProcessTests.register(carol, "carol")
        try await alice.send("JOIN #team s3cret")
        try await bob.send("JOIN #team s3cret")
        try await carol.send("JOIN #team")
        try await carol.send("JOIN #sync")
        try await alice.send("JOIN #sync")
        try await alice.waitFor(containing: " 366 alice #sync ", timeout: .seconds(20))
        try await carol.waitFor(containing: " 366 carol #sync ", timeout: .seconds(20))

        try await alice.send("PRIVMSG #team :behind closed doors")
        try await bob.waitFor(containing: "PRIVMSG #team :behind closed doors", timeout: .seconds(30))
        try await carol.send("PRIVMSG #team :the public team")
        try await alice.send("PRIVMSG #sync :sync point")
        // What each sees up to a fence after those lines: never the other room's.
        let atCarol = try await carol.waitFor("the sync point", timeout: .seconds(30)) {
            $0.contains("PRIVMSG #sync :sync point") || $0.contains("behind closed doors")
        }
        #expect(atCarol.contains("sync point"))
        #expect(!carol.takeLines().contains { $0.contains("behind closed doors") })
        for (client, nick) in [(alice, "alice"), (bob, "bob")] {
            try await client.send("PING :fence-\(nick)")
            let fence = try await client.waitFor("the fence", timeout: .seconds(10)) {
                $0.contains("fence-\(nick)") || $0.contains("the public team")
            }
            #expect(fence.contains("PONG"))
        }

        // Alice's invite: carol parts the public room, accepts, and joins.
        try await alice.send("PRIVMSG PearServ :invite #team")
        let line = try await alice.waitFor(containing: " pearirc:", timeout: .seconds(10))
        let invite = String(line.split(separator: " ").last ?? "").trimmingCharacters(in: CharacterSet(charactersIn: ":"))
        #expect(invite.hasPrefix("pearirc:"))
        try await carol.send("PART #team")
        try await carol.send("PRIVMSG PearServ :accept \(invite)")
        try await carol.waitFor(containing: "Accepted: /join #team", timeout: .seconds(10))
        try await carol.send("JOIN #team")
        try await carol.waitFor(containing: "behind closed doors", timeout: .seconds(30))
        try await carol.send("PRIVMSG #team :carol joined by invite")
        try await bob.waitFor(containing: "PRIVMSG #team :carol joined by invite", timeout: .seconds(30))

        for client in [alice, bob, carol] { await client.close() }
        for process in [a, b, c] { await process.stop() }
        try await group.shutdownGracefully()
    }
}
