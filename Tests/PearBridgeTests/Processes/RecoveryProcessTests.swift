import Foundation
import NIOPosix
import Synchronization
import TestVectors
import Testing

/// A gateway whose store was lost while its keys were kept (store.sqlite truncated to 0): it must not write a fork
/// of its own logs that peers would reject; it says so, gets its logs back from a peer, and goes on.
@Suite(.serialized) struct RecoveryProcessTests {
    @Test func aLostStoreIsRecoveredFromAPeerBeforeAnythingIsAppended() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-recover-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let aDirectory = root.appendingPathComponent("a")
        let (b, bIRC, bPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"))
        var (a, aIRC, _) = try await GatewayProcess.start(directory: aDirectory, peers: [bPeer])
        let bob = try await LineClient.connect(port: bIRC, group: group)
        var alice = try await LineClient.connect(port: aIRC, group: group)
        try await ThreeGatewayProcessTests.register(bob, "bob", channel: "#keep")
        try await alice.send("CAP REQ :echo-message standard-replies")
        try await alice.send("CAP END")
        try await ThreeGatewayProcessTests.register(alice, "alice", channel: "#keep")
        for number in 1...3 { try await alice.send("PRIVMSG #keep :kept \(number)") }
        try await bob.waitFor(containing: "PRIVMSG #keep :kept 3", timeout: .seconds(30))
        await alice.close()
        await a.stop()

        // The database is lost; identity.key, primary-key and rooms.json stay. A starts alone (no peer to ask).
        let database = aDirectory.appendingPathComponent("store/store.sqlite").path
        #expect(truncate(database, 0) == 0)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        (a, aIRC, _) = try await GatewayProcess.start(directory: aDirectory)
        try await a.waitForOutput(containing: "our log of a room holds less than it is known to have")
        alice = try await LineClient.connect(port: aIRC, group: group)
        try await alice.send("CAP REQ :echo-message standard-replies")
        try await alice.send("CAP END")
        try await ThreeGatewayProcessTests.register(alice, "alice", channel: "#keep")
        try await alice.waitFor(containing: "is missing entries", timeout: .seconds(30))
        // Sending is refused, with the reason, rather than forking the log.
        try await alice.send("PRIVMSG #keep :too early")
        let refused = try await alice.waitFor("the refusal", timeout: .seconds(30)) { $0.contains("too early") || $0.contains("FAIL ") }
        #expect(refused.contains("FAIL PRIVMSG MESSAGE_NOT_STORED #keep") && refused.contains("being recovered from peers"), "\(refused)")

        // Meeting B gives the log back; then lines are sent again, and B accepts them (no fork).
        try await alice.send("PRIVMSG PearServ :connect 127.0.0.1:\(bPeer)")
        try await alice.waitFor(containing: "is whole again", timeout: .seconds(30))
        try await alice.send("PRIVMSG #keep :after recovery")
        try await alice.waitFor(containing: "PRIVMSG #keep :after recovery", timeout: .seconds(30))
        try await bob.waitFor(containing: "PRIVMSG #keep :after recovery", timeout: .seconds(30))
        #expect(!b.printed.contains("disconnecting peer"), "B accepted A's log: no fork")

        // A's history has the old lines back.
        try await alice.send("PART #keep")
        try await alice.send("JOIN #keep")
        try await alice.waitFor(containing: "PRIVMSG #keep :kept 1", timeout: .seconds(30))
        for client in [alice, bob] { await client.close() }
        for process in [a, b] { await process.stop() }
        try await group.shutdownGracefully()
    }
}
