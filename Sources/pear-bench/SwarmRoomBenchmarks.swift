import CompactEncoding
import Foundation
import Logging
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import SwarmEngine
import Synchronization

/// Issue 18's figures, on a loopback test net of six persistent DHT nodes (in this process, 127.0.0.1 only):
///
/// - `swarm.connect.*`: Hyperswarm's join-and-connect, ours (`DHTSwarm` + `PeerConnectionManager`) beside hyperswarm
///   in Node on the same test net (`--interop DIR`, Tests/interop/swarm-bench.js): peer A has joined a topic; from
///   peer B's creation (its DHT bootstrap included), when B's join is flushed, when it has its connection to A, and
///   when A's first bytes arrive;
/// - `swarm.join_to_line`: two `pearircd run` gateways given only `--bootstrap`: alice's line is in #room-N on A; from
///   bob's `JOIN` on a fresh gateway B (started and bootstrapped before) to bob's client showing that line (lookup,
///   connect, room channel, replication, IRC);
/// - `swarm.fast.*`: 10 talkers on A and 5 listeners on B, the gateways connected through the swarm, 1,000 lines/s for
///   10 s: latency p50/p99, deliveries lost, CPU per line of each gateway; beside it, in the same run, `swarm.tcp.*`:
///   the same load between two gateways joined by `--peer` over TCP (the path of the earlier issues).
enum SwarmRoomBenchmarks {
    static func run(rounds: Int, interop: String?, pearircd: URL, report: BenchmarkReport) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let net = try await DHTTestNet.start(size: 6, on: loop)
        do {
                try await connectTimes(rounds: rounds, net: net, loop: loop, report: report)
                if let modules = interop.map({ URL(fileURLWithPath: $0).appendingPathComponent("ref/node_modules").path }),
                    FileManager.default.fileExists(atPath: modules + "/hyperswarm")
                {
                    try reference(modules: modules, rounds: rounds, bootstrap: net.bootstrap, report: report)
                } else {
                    print("swarm.connect.reference skipped: no Node reference tree (pass --interop DIR, see ../shared/interop/README.md)")
                }
                try await gateways(rounds: rounds, pearircd: pearircd, bootstrap: net.bootstrap, group: group, report: report)
            } catch {
                try? await DHTTestNet.close(net.nodes, on: loop)
                try? await group.shutdownGracefully()
                throw error
        }
        try await DHTTestNet.close(net.nodes, on: loop)
        try await group.shutdownGracefully()
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func summary(_ name: String, _ values: [Double], parameters: [String: String], report: BenchmarkReport) {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return }
        report.figure("\(name)_median", sorted[sorted.count / 2], "ms", parameters)
        report.figure("\(name)_min", sorted.first!, "ms", parameters)
        report.figure("\(name)_max", sorted.last!, "ms", parameters)
    }

    // MARK: - Connect, ours and Node's

    /// A swarm peer as the gateway runs one, with a hook on the connections it keeps.
    final class Peer: Sendable {
        let swarm: DHTSwarm
        let manager: PeerConnectionManager
        let runner: Task<Void, Never>

        init(bootstrap: IPv4Endpoint, loop: any EventLoop, onConnection: @escaping @Sendable (any PeerConnection) -> Void) async throws {
            var logger = Logger(label: "bench.swarm")
            logger.logLevel = .critical
            let keyPair = Ed25519.randomKeyPair()
            swarm = DHTSwarm(keyPair: keyPair, configuration: .init(host: "127.0.0.1", bootstrap: [bootstrap]), eventLoop: loop, logger: logger)
            manager = PeerConnectionManager(
                localKey: keyPair.publicKey, transport: SwarmTransport(keyPair: keyPair, logger: logger, group: loop),
                keyDialler: swarm, discovery: swarm, logger: logger, onConnection: { onConnection($0) })
            let manager = self.manager
            runner = Task { try? await manager.run() }
            _ = try await swarm.bind()
            swarm.start { manager.accepted($0) }
        }

        func close() async {
            manager.shutdown()
            await runner.value
            await swarm.close()
        }
    }

    final class Marks: Sendable {
        let connected = Mutex<ContinuousClock.Instant?>(nil)
        let firstByte = Mutex<ContinuousClock.Instant?>(nil)
        let arrived: AsyncStream<Void>
        let signal: AsyncStream<Void>.Continuation
        init() { (arrived, signal) = AsyncStream.makeStream() }
    }

    static func connectTimes(rounds: Int, net: DHTTestNet, loop: any EventLoop, report: BenchmarkReport) async throws {
        var joined: [Double] = [], connected: [Double] = [], firstByte: [Double] = []
        for _ in 0..<rounds {
            let topic = RandomBytes.generate(count: 32)
            let a = try await Peer(bootstrap: net.bootstrap, loop: loop) { connection in
                // A's first bytes: a channel opened at once on every connection it keeps.
                connection.open(protocol: "bench", id: [], handshake: [1])
                Task { for await _ in connection.events {} }
            }
            await a.swarm.join(topic: topic)
            await a.swarm.flush()
            let marks = Marks()
            let start = ContinuousClock.now
            let b = try await Peer(bootstrap: net.bootstrap, loop: loop) { connection in
                marks.connected.withLock { $0 = $0 ?? .now }
                Task {
                    for await event in connection.events {
                        if case .opened("bench", _, _) = event {
                            marks.firstByte.withLock { $0 = $0 ?? .now }
                            marks.signal.yield()
                        }
                    }
                }
            }
            await b.swarm.join(topic: topic)
            await b.swarm.flush()
            joined.append(milliseconds(ContinuousClock.now - start))
            let arrivedInTime = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await _ in marks.arrived { return true }
                    return false
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(30))
                    marks.signal.finish()
                    return false
                }
                let first = await group.next() ?? false
                marks.signal.finish()
                group.cancelAll()
                return first
            }
            if arrivedInTime, let c = marks.connected.withLock({ $0 }), let f = marks.firstByte.withLock({ $0 }) {
                connected.append(milliseconds(c - start))
                firstByte.append(milliseconds(f - start))
            } else {
                print("swarm.connect: a round without a connection in 30 s")
            }
            await b.close()
            await a.close()
        }
        let parameters = ["nodes": "6", "rounds": "\(rounds)"]
        summary("swarm.connect.ours.joined", joined, parameters: parameters, report: report)
        summary("swarm.connect.ours.connected", connected, parameters: parameters, report: report)
        summary("swarm.connect.ours.first_byte", firstByte, parameters: parameters, report: report)
    }

    struct ReferenceResult: Decodable {
        let joinedMs: [Double]
        let connectedMs: [Double]
        let firstByteMs: [Double]
    }

    static func reference(modules: String, rounds: Int, bootstrap: IPv4Endpoint, report: BenchmarkReport) throws {
        let data = try NodeScript.run("swarm-bench.js", arguments: ["\(bootstrap.port)", "\(rounds)"], modules: modules).output
        guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last(where: { $0.contains("joinedMs") }) else {
            throw IRCBenchmarks.Failure(description: "swarm-bench.js printed no result")
        }
        let result = try JSONDecoder().decode(ReferenceResult.self, from: Data(line.utf8))
        let parameters = ["nodes": "6", "rounds": "\(rounds)"]
        summary("swarm.connect.reference.joined", result.joinedMs, parameters: parameters, report: report)
        summary("swarm.connect.reference.connected", result.connectedMs, parameters: parameters, report: report)
        summary("swarm.connect.reference.first_byte", result.firstByteMs, parameters: parameters, report: report)
    }

    // MARK: - Gateways

    static func startGateway(_ name: String, root: URL, pearircd: URL, bootstrap: IPv4Endpoint) throws -> ServerProcess {
        try ServerProcess.start(
            pearircd,
            arguments: [
                "run", "--port", "0", "--no-tls", "--history-on-join", "0", "--no-peer-listener", "--dht-host", "127.0.0.1",
                "--bootstrap", "127.0.0.1:\(bootstrap.port)", "--data-dir", root.appendingPathComponent(name).path,
            ])
    }

    static func gateways(rounds: Int, pearircd: URL, bootstrap: IPv4Endpoint, group: any EventLoopGroup, report: BenchmarkReport) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-swarm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = try startGateway("a", root: root, pearircd: pearircd, bootstrap: bootstrap)
        defer { a.stop() }
        let alice = try await IRCLoadClient.connect(nick: "alice", host: "127.0.0.1", port: a.ports["plain"] ?? 0, group: group)
        defer { alice.close() }

        var joinToLine: [Double] = []
        for round in 0..<rounds {
            let room = "#room-\(round)"
            alice.write("JOIN \(room)\r\nPRIVMSG \(room) :t=\(DispatchTime.now().uptimeNanoseconds) said before bob came\r\n")
            try await alice.sync("said-\(round)")
            // A's announce lands within a DHT round trip or two of the join; B comes later, as a person would.
            try await Task.sleep(for: .milliseconds(500))
            let b = try startGateway("b\(round)", root: root, pearircd: pearircd, bootstrap: bootstrap)
            defer { b.stop() }
            let bob = try await IRCLoadClient.connect(nick: "bob", host: "127.0.0.1", port: b.ports["plain"] ?? 0, group: group)
            defer { bob.close() }
            // B's DHT node bootstraps in the background after it prints its ports: give it the moment it takes.
            try await Task.sleep(for: .milliseconds(300))
            bob.resetDeliveries()
            let start = DispatchTime.now().uptimeNanoseconds
            bob.write("JOIN \(room)\r\n")
            try await P2PLoadBenchmarks.waitForDeliveries([bob], total: 1, timeout: .seconds(60))
            let arrival = bob.counters.withLock(\.lastArrival)
            joinToLine.append(Double(arrival &- start) / 1e6)
        }
        summary("swarm.join_to_line", joinToLine, parameters: ["nodes": "6", "rounds": "\(rounds)"], report: report)

        // The load: talkers on A, listeners on a B that met A through the swarm; then the same between two gateways
        // joined over TCP by address.
        var options = P2PLoadBenchmarks.Options()
        options.rate = 1000
        options.seconds = 10
        do {
            let b = try startGateway("b", root: root, pearircd: pearircd, bootstrap: bootstrap)
            defer { b.stop() }
            try await load(options, from: a, to: b, as: "swarm.fast", group: group, report: report)
        }
        let c = try P2PLoadBenchmarks.startGateway("c", root: root, options: options, extra: ["--peer-host", "127.0.0.1", "--peer-port", "0"])
        defer { c.stop() }
        let d = try P2PLoadBenchmarks.startGateway(
            "d", root: root, options: options, extra: ["--no-peer-listener", "--peer", "127.0.0.1:\(c.ports["peers"] ?? 0)"])
        defer { d.stop() }
        try await load(options, from: c, to: d, as: "swarm.tcp", group: group, report: report)
    }

    /// `options.rate` lines/s for `options.seconds` from talkers on `talkers` to listeners on `listeners`, reported as
    /// `name` (the gateways as "a" and "b").
    static func load(
        _ options: P2PLoadBenchmarks.Options, from talkers: ServerProcess, to listeners: ServerProcess, as name: String,
        group: any EventLoopGroup, report: BenchmarkReport
    ) async throws {
        let lines = options.rate * options.seconds
        let clients = try await P2PLoadBenchmarks.join(
            options, talkersOn: talkers.ports["plain"] ?? 0, listenersOn: listeners.ports["plain"] ?? 0, group: group)
        defer { clients.close() }
        try await P2PLoadBenchmarks.warmUp(clients)
        let phase = try await P2PLoadBenchmarks.paced(clients, rate: options.rate, lines: lines, servers: [talkers, listeners])
        P2PLoadBenchmarks.summarise(
            phase, as: name, servers: ["a", "b"],
            parameters: ["talkers": "\(options.talkers)", "listeners": "\(options.listeners)", "rate": "\(options.rate)/s", "lines": "\(lines)"],
            report: report)
    }
}
