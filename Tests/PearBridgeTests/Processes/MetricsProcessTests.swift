import Foundation
import NIOCore
import NIOPosix
import TestVectors
import Testing

/// A running gateway's `/metrics` (issue 21): Prometheus's text format, to loopback clients, with what operators
/// watch: IRC connections and lines, rooms joined, chat lines written, peer connections and handshake failures.
@Suite(.serialized) struct MetricsProcessTests {
    /// The figures as `/metrics` shows them now: sample name (with labels) → value.
    static func scrape(port: Int, group: any EventLoopGroup) async throws -> [String: Double] {
        let http = try await LineClient.connect(port: port, group: group)
        try await http.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
        try await http.waitUntilClosed()
        let lines = http.takeLines()
        #expect(lines.first?.hasPrefix("HTTP/1.1 200") == true, "\(lines.prefix(3))")
        #expect(lines.contains { $0.lowercased().hasPrefix("content-type: text/plain; version=0.0.4") })
        var samples: [String: Double] = [:]
        for line in lines where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            samples[String(parts[0])] = value
        }
        return samples
    }

    @Test func theGatewayShowsItsFiguresToLoopbackClients() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-metrics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (gateway, irc, _) = try await GatewayProcess.start(directory: directory, extraArguments: ["--web-port", "0"])
        let web = try await gateway.port("web")

        // The gateway's help page, with its commands (admin ones included) and the security headers.
        let help = try await LineClient.connect(port: web, group: group)
        try await help.send("GET /help HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
        try await help.waitUntilClosed()
        let page = help.takeLines()
        #expect(page.first?.hasPrefix("HTTP/1.1 200") == true)
        #expect(page.contains { $0.lowercased().hasPrefix("content-security-policy: default-src 'self'") })
        #expect(page.contains { $0.contains("<code>account add NAME PASSWORD [admin]</code>") })
        #expect(page.contains { $0.contains("/msg PearServ COMMAND") })

        let before = try await Self.scrape(port: web, group: group)
        #expect(before["pearirc_irc_connections"] == 0)
        #expect(before["pearirc_rooms_joined"] == 0)

        let client = try await LineClient.connect(port: irc, group: group)
        try await SwarmRoomProcessTests.register(client, "watcher")
        try await client.send("JOIN #figures")
        try await client.waitFor(containing: " 366 watcher #figures ")
        try await client.send("PRIVMSG #figures :one")
        try await client.send("PRIVMSG #figures :two")
        try await client.send("PING done")
        try await client.waitFor(containing: "PONG")

        let after = try await Self.scrape(port: web, group: group)
        #expect(after["pearirc_irc_connections"] == 1)
        #expect(after["pearirc_rooms_joined"] == 1)
        #expect(after["pearirc_peer_connections"] == 0)
        #expect(after["pearirc_room_lines_total{origin=\"local\"}"] == 2)
        #expect((after["pearirc_irc_lines_received_total"] ?? 0) >= 6)
        #expect((after["pearirc_irc_messages_sent_total"] ?? 0) > (before["pearirc_irc_messages_sent_total"] ?? 0))

        await client.close()
        await gateway.stop()
        try await group.shutdownGracefully()
    }

    /// Two gateways in a room: the one that receives counts the other's lines as remote, its peer connection, and a
    /// replication lag that falls back to zero once it has caught up.
    @Test func linesFromAnotherGatewayAndReplicationAreCounted() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-metrics2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, ircA, peerA) = try await GatewayProcess.start(directory: base.appendingPathComponent("a"), extraArguments: ["--web-port", "0"])
        let (b, ircB, _) = try await GatewayProcess.start(directory: base.appendingPathComponent("b"), peers: [peerA])
        let web = try await a.port("web")
        let alice = try await LineClient.connect(port: ircA, group: group)
        try await SwarmRoomProcessTests.register(alice, "alice")
        try await alice.send("JOIN #figures")
        let bob = try await LineClient.connect(port: ircB, group: group)
        try await SwarmRoomProcessTests.register(bob, "bob")
        try await bob.send("JOIN #figures")
        try await bob.waitFor(containing: " 366 bob #figures ")
        try await alice.waitFor(containing: "JOIN #figures")
        try await bob.send("PRIVMSG #figures :from b one")
        try await bob.send("PRIVMSG #figures :from b two")
        try await alice.waitFor(containing: "from b two")

        var figures: [String: Double] = [:]
        let deadline = ContinuousClock.now + .seconds(20)
        repeat {
            figures = try await Self.scrape(port: web, group: group)
            if figures["pearirc_room_lines_total{origin=\"remote\"}"] == 2, figures["pearirc_replication_blocks_behind"] == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        #expect(figures["pearirc_room_lines_total{origin=\"remote\"}"] == 2)
        #expect(figures["pearirc_peer_connections"] == 1)
        #expect(figures["pearirc_replication_blocks_behind"] == 0, "the gauge is shown once replication ran, at zero once caught up")

        for client in [alice, bob] { await client.close() }
        await a.stop()
        await b.stop()
        try await group.shutdownGracefully()
    }
}
