import Foundation
import NIOPosix
import TestVectors
import Testing

/// Three `pearircd` processes on loopback in a line (A – B – C), each with its own data directory and an IRC
/// client: lines cross both ways and along the line, a nick change shows up remotely, and a gateway that was
/// stopped catches up on restart.
@Suite(.serialized) struct ThreeGatewayProcessTests {
    static func register(_ client: LineClient, _ nick: String, channel: String) async throws {
        try await client.send("NICK \(nick)")
        try await client.send("USER \(nick) 0 * :\(nick)")
        try await client.waitFor(containing: " 001 \(nick) ", timeout: .seconds(20))
        try await client.send("JOIN \(channel)")
        try await client.waitFor(containing: " 366 \(nick) ", timeout: .seconds(20))
    }

    @Test func chatAlongTheLineAndCatchUpAfterRestart() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-three-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"))
        let (b, bIRC, bPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), peers: [aPeer])
        var (c, cIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), peers: [bPeer])

        let alice = try await LineClient.connect(port: aIRC, group: group)
        let bob = try await LineClient.connect(port: bIRC, group: group)
        var carol = try await LineClient.connect(port: cIRC, group: group)
        try await Self.register(alice, "alice", channel: "#line")
        try await Self.register(bob, "bob", channel: "#line")
        try await Self.register(carol, "carol", channel: "#line")

        // A to C through B, and back.
        try await alice.send("PRIVMSG #line :hello from the start of the line")
        try await carol.waitFor(containing: "PRIVMSG #line :hello from the start of the line", timeout: .seconds(30))
        try await carol.send("PRIVMSG #line :and back from the end")
        try await alice.waitFor(containing: "PRIVMSG #line :and back from the end", timeout: .seconds(30))
        try await bob.waitFor(containing: "PRIVMSG #line :and back from the end", timeout: .seconds(30))

        // A nick change on A reaches C.
        try await alice.send("NICK alicia")
        try await carol.waitFor(containing: " NICK alicia", timeout: .seconds(30))

        // C stops; A and B talk; C restarts from its data directory and catches up.
        await carol.close()
        await c.stop()
        try await alice.send("PRIVMSG #line :while carol was away")
        try await bob.waitFor(containing: "while carol was away", timeout: .seconds(30))
        (c, cIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), peers: [bPeer])
        carol = try await LineClient.connect(port: cIRC, group: group)
        try await Self.register(carol, "carol", channel: "#line")
        // The missed line arrives: as history on join if replication was quick, or live right after.
        try await carol.waitFor(containing: "while carol was away", timeout: .seconds(30))

        for client in [alice, bob, carol] { await client.close() }
        for process in [a, b, c] { await process.stop() }
        try await group.shutdownGracefully()
    }
}
