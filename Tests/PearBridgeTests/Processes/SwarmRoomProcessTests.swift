import Foundation
import NIOPosix
import Synchronization
import TestVectors
import Testing

/// Rooms found by name alone: a local test net of six persistent `pearircd dht-node`s on 127.0.0.1 and `pearircd`
/// gateways given only `--bootstrap` (no `--peer`, no address of each other). Two gateways whose users join #room at
/// the same moment meet within seconds (the quick re-lookup), a third joins, lines cross every way, a late fourth
/// catches up the history, a gateway whose user parts is no longer in the room for the others, and a gateway
/// restarted on its data directory is back in its rooms before any client connects.
@Suite(.serialized) struct SwarmRoomProcessTests {
    /// The test net: the first node is the network's first (no bootstrap), the others bootstrap from it.
    static func startTestNet(size: Int = 6) async throws -> (nodes: [GatewayProcess], ports: [Int]) {
        let first = try GatewayProcess.launch(["dht-node", "--host", "127.0.0.1", "--port", "0", "--persistent"])
        let firstPort = try await first.port("dht")
        let others = try (1..<size).map { _ in
            try GatewayProcess.launch([
                "dht-node", "--host", "127.0.0.1", "--port", "0", "--persistent", "--bootstrap", "127.0.0.1:\(firstPort)",
            ])
        }
        var ports = [firstPort]
        for node in others {
            ports.append(try await node.port("dht"))
            try await node.waitForOutput(containing: "bootstrapped")
        }
        return ([first] + others, ports)
    }

    static func register(_ client: LineClient, _ nick: String) async throws {
        try await client.send("NICK \(nick)")
        try await client.send("USER \(nick) 0 * :\(nick)")
        try await client.waitFor(containing: " 001 \(nick) ", timeout: .seconds(20))
    }

    static func join(_ client: LineClient, _ nick: String, _ channel: String) async throws {
        try await client.send("JOIN \(channel)")
        try await client.waitFor(containing: " 366 \(nick) ", timeout: .seconds(20))
    }

    @Test func gatewaysMeetByRoomNameOnly() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-swarm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (net, ports) = try await Self.startTestNet()
        let bootstrap = Array(ports.prefix(2))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

        let (a, aIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"), bootstrap: bootstrap)
        var (b, bIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), bootstrap: bootstrap)
        let (c, cIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), bootstrap: bootstrap)
        for gateway in [a, b, c] { #expect(try await gateway.port("dht") > 0) }

        let alice = try await LineClient.connect(port: aIRC, group: group)
        var bob = try await LineClient.connect(port: bIRC, group: group)
        let carol = try await LineClient.connect(port: cIRC, group: group)
        try await Self.register(alice, "alice")
        try await Self.register(bob, "bob")
        try await Self.register(carol, "carol")
        // Alice and Bob join at the same moment: neither announce is stored when the other's first lookup runs.
        try await alice.send("JOIN #room")
        try await bob.send("JOIN #room")
        try await alice.waitFor(containing: " 366 alice ", timeout: .seconds(20))
        try await bob.waitFor(containing: " 366 bob ", timeout: .seconds(20))
        try await alice.send("PRIVMSG #room :hello from alice, by room name only")
        try await bob.waitFor(containing: "PRIVMSG #room :hello from alice, by room name only", timeout: .seconds(30))
        try await bob.send("PRIVMSG #room :and bob answers")
        try await alice.waitFor(containing: "PRIVMSG #room :and bob answers", timeout: .seconds(30))

        // A third gateway joins: it gets what was said, and its line reaches both.
        try await Self.join(carol, "carol", "#room")
        try await carol.waitFor(containing: "and bob answers", timeout: .seconds(30))
        try await carol.send("PRIVMSG #room :carol is here too")
        try await alice.waitFor(containing: "carol is here too", timeout: .seconds(30))
        try await bob.waitFor(containing: "carol is here too", timeout: .seconds(30))

        // A late fourth catches up the history. (Its lines arrive in any order: the writers' logs replicate side by
        // side, and a live line is shown when it arrives; history, asked for later, is in the room's order.)
        let (d, dIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("d"), bootstrap: bootstrap)
        let dave = try await LineClient.connect(port: dIRC, group: group)
        try await Self.register(dave, "dave")
        try await Self.join(dave, "dave", "#room")
        try await Self.waitForAll(
            dave, ["hello from alice, by room name only", "and bob answers", "carol is here too"], timeout: .seconds(30))

        // Carol parts: A no longer shares the room with C (its connection may stay; the room is gone from it).
        let carolKey = try await Self.identity(of: carol)
        try await carol.send("PART #room :bye")
        try await Self.waitForPeerLine(on: alice, about: carolKey) { !$0.contains("#room") }

        // B restarts on its data directory with no client: it is back in #room for A before anyone connects to it.
        let bobKey = try await Self.identity(of: bob)
        await bob.close()
        await b.stop()
        try await Self.waitForPeerLine(on: alice, about: bobKey, present: false) { _ in true }
        (b, bIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), bootstrap: bootstrap)
        try await Self.waitForPeerLine(on: alice, about: bobKey) { $0.contains("rooms shared: #room") }
        try await alice.send("PRIVMSG #room :while bob's client was away")
        bob = try await LineClient.connect(port: bIRC, group: group)
        try await Self.register(bob, "bob")
        try await Self.join(bob, "bob", "#room")
        try await bob.waitFor(containing: "while bob's client was away", timeout: .seconds(30))

        for client in [alice, bob, carol, dave] { await client.close() }
        for process in [a, b, c, d] + net { await process.stop() }
        try await group.shutdownGracefully()
    }

    final class Seen: Sendable {
        let lines = Mutex<[String]>([])
        let missing: Mutex<Set<String>>
        init(missing: Set<String> = []) { self.missing = Mutex(missing) }
    }

    /// Waits until the client has received a line containing each of `texts`, in any order.
    static func waitForAll(_ client: LineClient, _ texts: Set<String>, timeout: Duration) async throws {
        let seen = Seen(missing: texts)
        try await client.waitFor("all of \(texts.sorted())", timeout: timeout) { line in
            seen.missing.withLock { missing in
                missing = missing.filter { !line.contains($0) }
                return missing.isEmpty
            }
        }
    }

    /// DHT settings that cannot work are refused at start, saying why; and a gateway given no `--bootstrap` would join
    /// the public HyperDHT, which every test forbids: it refuses to start instead.
    @Test func badDHTSettingsAreRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-baddht-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let common = ["run", "--data-dir", directory.path, "--port", "0", "--no-tls", "--no-peer-listener"]
        let cases = [
            (["--bootstrap", "nowhere"], "--bootstrap nowhere: expected IPv4-HOST:PORT"),
            (["--dht-port", "70000"], "--dht-port must be 0 to 65535"),
            (["--no-dht", "--bootstrap", "127.0.0.1:1"], "--bootstrap and --no-dht contradict each other"),
            ([], "PEARIRC_FORBID_PUBLIC_BOOTSTRAP forbids the public HyperDHT bootstrap nodes"),
        ]
        for (arguments, report) in cases {
            let gateway = try GatewayProcess.launch(common + arguments)
            let status = await gateway.exitStatus(timeout: .seconds(30))
            #expect(status != nil && status != 0, "\(arguments)")
            #expect(gateway.printed.contains(report), "\(arguments): \(gateway.printed)")
        }
    }

    /// The first 12 z-base-32 characters of a gateway's identity, as PearServ shows it.
    static func identity(of client: LineClient) async throws -> String {
        try await client.send("PRIVMSG PearServ :identity")
        let line = try await client.waitFor(containing: "Your public key: ", timeout: .seconds(10))
        return String(line.components(separatedBy: "Your public key: ").last?.prefix(12) ?? "")
    }

    /// The first 12 characters of the key the client's gateway connects under (its transport key).
    static func transportKey(of client: LineClient) async throws -> String {
        try await client.send("PRIVMSG PearServ :identity")
        let marker = "This gateway's transport key (its connections): "
        let line = try await client.waitFor(containing: marker, timeout: .seconds(10))
        return String(line.components(separatedBy: marker).last?.prefix(12) ?? "")
    }

    /// Asks `/msg PearServ peers` until the line of the peer with identity `key` satisfies `predicate` (or, with
    /// `present: false`, until no line names it): what it reports changes as peers come and go. Each answer is
    /// fenced by a PING, so the lines of one answer are read together.
    static func waitForPeerLine(
        on client: LineClient, about key: String, present: Bool = true, timeout: Duration = .seconds(40),
        _ predicate: @escaping @Sendable (String) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        var round = 0
        var last: [String] = []
        while ContinuousClock.now < deadline {
            round += 1
            try await client.send("PRIVMSG PearServ :peers")
            try await client.send("PING :peers\(round)")
            // `waitFor` forgets the lines up to the PONG; the predicate sees each of them on the way.
            let seen = Seen()
            let fence = "peers\(round)"
            try await client.waitFor("PONG \(fence)", timeout: .seconds(10)) { line in
                seen.lines.withLock { $0.append(line) }
                return line.contains("PONG") && line.contains(fence)
            }
            last = seen.lines.withLock { lines in lines.filter { $0.contains(":PearServ") } }
            let answer = last
            let lines = answer.filter { $0.contains("identity \(key)") }
            if present ? lines.contains(where: predicate) : lines.isEmpty { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("PearServ never reported what was waited for about \(key); last answer: \(last)")
        throw CancellationError()
    }
}
