import Foundation
import NIOCore
import NIOPosix

/// Issue 14's figures: the peer-to-peer path under load, two `pearircd` gateways as separate processes joined over
/// loopback TCP, talkers on gateway A and listeners on gateway B, measured side by side in one run with the same
/// clients on one standalone pearircd (the IRC path alone, the reference):
///
/// - `p2p.reference.*` / `p2p.fast.*`: `rate` lines/s for `seconds` from `talkers` clients, each line delivered to every
///   listener: latency p50/p99 (send to arrival at a listener, the send time travelling in the line), lines lost, and
///   CPU per line of each server process (user + system time from /proc over the phase, divided by the lines sent);
/// - `p2p.single.*`: one talker at 10 lines/s (a single line's latency when nothing queues);
/// - `p2p.sustained.*`: `sustainedRate` lines/s for `sustainedLines` lines: latency over the whole phase and over its
///   last tenth (a growing backlog shows as a last tenth far above the whole), the drain time from the last send to the
///   last delivery, CPU per line, and each gateway's resident memory before the first line and after the last;
/// - `p2p.catchup`: a third gateway joins the room and connects to A: seconds until its client has every line A's room
///   holds (the history sync after a week away), and its CPU per line.
enum P2PLoadBenchmarks {
    struct Options {
        var pearircd = ServerProcess.besideThisBinary("pearircd")
        var talkers = 10
        var listeners = 5
        var rate = 1000
        var seconds = 10
        var singleLines = 100
        var sustainedRate = 3000
        var sustainedLines = 100_000
        var catchUp = true
        var reference = true
    }

    static let channel = "#bench"

    /// The clients of one shape: talkers (on A) and listeners (on B, or on the same server for the reference).
    struct Clients {
        let talkers: [IRCLoadClient]
        let listeners: [IRCLoadClient]
        var everyone: [IRCLoadClient] { talkers + listeners }

        func close() { for client in everyone { client.close() } }
    }

    struct Phase {
        /// Send-to-arrival times at the listeners, in arrival order per listener.
        var latencies: [[Double]]
        var expected: Int
        var received: Int
        /// CPU seconds each server spent during the phase.
        var cpu: [Double]
        /// From the last send to the last delivery.
        var drainMs: Double
        var lines: Int
    }

    static func run(_ options: Options, report: BenchmarkReport) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-p2p-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await run(options, root: root, group: group, report: report)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    static func run(_ options: Options, root: URL, group: any EventLoopGroup, report: BenchmarkReport) async throws {
        let shape = ["talkers": "\(options.talkers)", "listeners": "\(options.listeners)"]
        let fastLines = options.rate * options.seconds
        let fastParameters = shape.merging(["rate": "\(options.rate)/s", "lines": "\(fastLines)"]) { $1 }

        // The reference: the same clients on one standalone server.
        if options.reference {
            let server = try startStandalone(root: root, options: options)
            defer { server.stop() }
            let port = server.ports["plain"] ?? 0
            let clients = try await join(options, talkersOn: port, listenersOn: port, group: group)
            defer { clients.close() }
            try await warmUp(clients)
            let phase = try await paced(clients, rate: options.rate, lines: fastLines, servers: [server])
            summarise(phase, as: "p2p.reference", servers: ["server"], parameters: fastParameters, report: report)
        }

        let (a, b, aPeers) = try startPair(root: root, options: options)
        defer { a.stop(); b.stop() }
        let clients = try await join(options, talkersOn: a.ports["plain"] ?? 0, listenersOn: b.ports["plain"] ?? 0, group: group)
        defer { clients.close() }
        try await warmUp(clients)
        let rssBefore = (try a.residentMiB(), try b.residentMiB())
        var roomLines = 1

        let single = try await paced(clients, rate: 10, lines: options.singleLines, talkers: 1, servers: [a, b])
        roomLines += options.singleLines
        summarise(single, as: "p2p.single", servers: ["a", "b"], parameters: ["rate": "10/s", "lines": "\(options.singleLines)"], report: report)

        let fast = try await paced(clients, rate: options.rate, lines: fastLines, servers: [a, b])
        roomLines += fastLines
        summarise(fast, as: "p2p.fast", servers: ["a", "b"], parameters: fastParameters, report: report)

        let sustainedParameters = shape.merging(["rate": "\(options.sustainedRate)/s", "lines": "\(options.sustainedLines)"]) { $1 }
        let sustained = try await paced(clients, rate: options.sustainedRate, lines: options.sustainedLines, servers: [a, b])
        roomLines += options.sustainedLines
        summarise(sustained, as: "p2p.sustained", servers: ["a", "b"], parameters: sustainedParameters, report: report)
        let lastTenth = sustained.latencies.flatMap { $0.suffix(max(1, $0.count / 10)) }
        report.figure("p2p.sustained.last_tenth_p99", percentile(lastTenth, 0.99), "ms", sustainedParameters)
        let rssAfter = (try a.residentMiB(), try b.residentMiB())
        let memory = ["room_lines": "\(roomLines)"]
        report.figure("p2p.rss.a.start", rssBefore.0, "MiB", memory)
        report.figure("p2p.rss.a.after", rssAfter.0, "MiB", memory)
        report.figure("p2p.rss.b.start", rssBefore.1, "MiB", memory)
        report.figure("p2p.rss.b.after", rssAfter.1, "MiB", memory)

        if options.catchUp { try await catchUp(lines: roomLines, from: aPeers, root: root, options: options, group: group, report: report) }
    }

    /// A third gateway joins the room, then dials A: seconds until its client was shown every line of the room.
    static func catchUp(
        lines: Int, from peerPort: Int, root: URL, options: Options, group: any EventLoopGroup, report: BenchmarkReport
    ) async throws {
        let c = try startGateway("c", root: root, options: options, extra: ["--no-peer-listener"])
        defer { c.stop() }
        let reader = try await IRCLoadClient.connect(nick: "reader", host: "127.0.0.1", port: c.ports["plain"] ?? 0, group: group)
        defer { reader.close() }
        reader.write("JOIN \(channel)\r\n")
        try await reader.sync("joined")
        let cpuBefore = try c.cpuSeconds()
        let started = ContinuousClock.now
        reader.write("PRIVMSG PearServ :connect 127.0.0.1:\(peerPort)\r\n")
        try await waitForDeliveries([reader], total: lines, timeout: .seconds(600))
        let elapsed = seconds(ContinuousClock.now - started)
        let parameters = ["lines": "\(lines)"]
        report.figure("p2p.catchup", elapsed, "s", parameters)
        report.figure("p2p.catchup.cpu_per_line", (try c.cpuSeconds() - cpuBefore) / Double(lines) * 1e6, "µs", parameters)
    }

    /// Issue 19: direct messages between two gateways, beside room lines on the same path and private messages on one
    /// standalone server, in one run: one talker sends `rate` lines/s for `lines` lines to one listener (`p2p.direct.*`:
    /// a private message to the listener's nick on the other gateway; `p2p.direct_room.*`: the same talker's lines in
    /// the room, counted at the same listener; `p2p.direct_reference.*`: a private message between two clients of one
    /// standalone server). Latency p50/p99, losses, CPU per line.
    static func direct(_ options: Options, rate: Int, lines: Int, report: BenchmarkReport) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-dm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await direct(options, rate: rate, lines: lines, root: root, group: group, report: report)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    static func direct(
        _ options: Options, rate: Int, lines: Int, root: URL, group: any EventLoopGroup, report: BenchmarkReport
    ) async throws {
        var shape = options
        shape.talkers = 1
        shape.listeners = 1
        let parameters = ["rate": "\(rate)/s", "lines": "\(lines)"]

        let server = try startStandalone(root: root, options: options)
        defer { server.stop() }
        let port = server.ports["plain"] ?? 0
        let local = try await join(shape, talkersOn: port, listenersOn: port, group: group)
        defer { local.close() }
        try await warmUp(local)
        let reference = try await paced(local, rate: rate, lines: lines, to: "listener0", servers: [server])
        summarise(reference, as: "p2p.direct_reference", servers: ["server"], parameters: parameters, report: report)

        let (a, b, _) = try startPair(root: root, options: options)
        defer { a.stop(); b.stop() }
        let clients = try await join(shape, talkersOn: a.ports["plain"] ?? 0, listenersOn: b.ports["plain"] ?? 0, group: group)
        defer { clients.close() }
        try await warmUp(clients)
        // The conversation is opened (logs created, channel paired) by a first message, awaited.
        clients.listeners[0].resetDeliveries()
        clients.talkers[0].write("PRIVMSG listener0 :t=\(DispatchTime.now().uptimeNanoseconds) opening the conversation\r\n")
        try await waitForDeliveries(clients.listeners, total: 1, timeout: .seconds(60))

        let room = try await paced(clients, rate: rate, lines: lines, servers: [a, b])
        summarise(room, as: "p2p.direct_room", servers: ["a", "b"], parameters: parameters, report: report)
        let direct = try await paced(clients, rate: rate, lines: lines, to: "listener0", servers: [a, b])
        summarise(direct, as: "p2p.direct", servers: ["a", "b"], parameters: parameters, report: report)
    }

    /// The reference: a standalone server (the IRC path alone).
    static func startStandalone(root: URL, options: Options) throws -> ServerProcess {
        try ServerProcess.start(
            options.pearircd,
            arguments: ["run", "--standalone", "--port", "0", "--no-tls", "--history-on-join", "0", "--data-dir", root.appendingPathComponent("standalone").path])
    }

    /// Gateways A and B, B dialling A over loopback TCP; with A's peer port.
    static func startPair(root: URL, options: Options) throws -> (a: ServerProcess, b: ServerProcess, aPeers: Int) {
        let a = try startGateway("a", root: root, options: options, extra: ["--peer-host", "127.0.0.1", "--peer-port", "0"])
        guard let aPeers = a.ports["peers"] else {
            a.stop()
            throw IRCBenchmarks.Failure(description: "gateway a printed no peer port")
        }
        do {
            let b = try startGateway("b", root: root, options: options, extra: ["--no-peer-listener", "--peer", "127.0.0.1:\(aPeers)"])
            return (a, b, aPeers)
        } catch {
            a.stop()
            throw error
        }
    }

    static func startGateway(_ name: String, root: URL, options: Options, extra: [String]) throws -> ServerProcess {
        try ServerProcess.start(
            options.pearircd,
            arguments: ["run", "--port", "0", "--no-tls", "--history-on-join", "0", "--data-dir", root.appendingPathComponent(name).path]
                + ServerProcess.offTheDHT(options.pearircd) + extra)
    }

    /// Talkers and listeners registered and in the channel.
    static func join(_ options: Options, talkersOn talkerPort: Int, listenersOn listenerPort: Int, group: any EventLoopGroup) async throws -> Clients {
        var talkers: [IRCLoadClient] = []
        var listeners: [IRCLoadClient] = []
        for index in 0..<options.talkers {
            talkers.append(try await IRCLoadClient.connect(nick: "talker\(index)", host: "127.0.0.1", port: talkerPort, group: group))
        }
        for index in 0..<options.listeners {
            listeners.append(try await IRCLoadClient.connect(nick: "listener\(index)", host: "127.0.0.1", port: listenerPort, group: group))
        }
        let clients = Clients(talkers: talkers, listeners: listeners)
        for client in clients.everyone {
            client.write("JOIN \(channel)\r\n")
            try await client.sync("joined")
        }
        return clients
    }

    /// One line from the first talker, awaited at every listener: the room is open on both sides and the gateways
    /// replicate each other's logs.
    static func warmUp(_ clients: Clients) async throws {
        clients.talkers[0].write("PRIVMSG \(channel) :t=\(DispatchTime.now().uptimeNanoseconds) warm-up\r\n")
        try await waitForDeliveries(clients.listeners, total: clients.listeners.count, timeout: .seconds(60))
    }

    /// Sends `lines` lines at `rate` per second, round robin over the first `talkers` talkers (all by default), then
    /// waits until every listener has them (or a timeout, which counts the rest as lost).
    static func paced(
        _ clients: Clients, rate: Int, lines: Int, talkers: Int? = nil, to target: String = channel, servers: [ServerProcess]
    ) async throws -> Phase {
        for client in clients.everyone { client.resetDeliveries() }
        let senders = Array(clients.talkers.prefix(talkers ?? clients.talkers.count))
        let cpuBefore = try servers.map { try $0.cpuSeconds() }
        let interval = 1e9 / Double(rate)
        let start = DispatchTime.now().uptimeNanoseconds
        var sent = 0
        var lastSend = start
        while sent < lines {
            let now = DispatchTime.now().uptimeNanoseconds
            let due = min(lines, Int(Double(now - start) / interval) + 1)
            var used = Set<Int>()
            while sent < due {
                let talker = sent % senders.count
                senders[talker].enqueue("PRIVMSG \(target) :t=\(DispatchTime.now().uptimeNanoseconds) line \(sent) of the benchmark\r\n")
                used.insert(talker)
                sent += 1
            }
            for talker in used { senders[talker].flush() }
            lastSend = now
            if sent < lines {
                let next = start + UInt64(Double(sent) * interval)
                let current = DispatchTime.now().uptimeNanoseconds
                if next > current { try await Task.sleep(nanoseconds: next - current) }
            }
        }
        let expected = lines * clients.listeners.count
        let timeout = Duration.seconds(lines / rate + 120)
        do {
            try await waitForDeliveries(clients.listeners, total: expected, timeout: timeout)
        } catch is DeliveryTimeout {
            // Reported as lost below.
        }
        let cpuAfter = try servers.map { try $0.cpuSeconds() }
        let counters = clients.listeners.map { $0.counters.withLock { ($0.received, $0.latenciesMs, $0.lastArrival) } }
        let lastArrival = counters.map(\.2).max() ?? lastSend
        return Phase(
            latencies: counters.map(\.1), expected: expected, received: counters.map(\.0).reduce(0, +),
            cpu: zip(cpuAfter, cpuBefore).map { $0 - $1 }, drainMs: Double(lastArrival &- lastSend) / 1e6, lines: lines)
    }

    struct DeliveryTimeout: Error, CustomStringConvertible {
        let received: Int
        let expected: Int
        var description: String { "only \(received) of \(expected) deliveries arrived in time" }
    }

    static func waitForDeliveries(_ clients: [IRCLoadClient], total: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let received = clients.map { $0.counters.withLock(\.received) }.reduce(0, +)
            if received >= total { return }
            guard ContinuousClock.now < deadline else { throw DeliveryTimeout(received: received, expected: total) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func summarise(_ phase: Phase, as name: String, servers: [String], parameters: [String: String], report: BenchmarkReport) {
        let all = phase.latencies.flatMap { $0 }
        report.figure("\(name).latency_p50", percentile(all, 0.5), "ms", parameters)
        report.figure("\(name).latency_p99", percentile(all, 0.99), "ms", parameters)
        report.figure("\(name).lost", Double(max(0, phase.expected - phase.received)), "deliveries", parameters)
        if phase.received > phase.expected {
            report.figure("\(name).duplicated", Double(phase.received - phase.expected), "deliveries", parameters)
        }
        report.figure("\(name).drain", phase.drainMs, "ms", parameters)
        for (server, cpu) in zip(servers, phase.cpu) {
            report.figure("\(name).cpu_per_line.\(server)", cpu / Double(phase.lines) * 1e6, "µs", parameters)
        }
    }
}
