import Foundation
import NIOCore
import NIOPosix

/// Issue 5's figures for any IRC server, so pearircd, InspIRCd and ngircd are measured by the same client:
///
/// - `irc.fanout.delivered`: `clients` clients join one channel and each sends `messages` PRIVMSGs (unpaced, or
///   `rate` per second per client); every line reaches every other member, so deliveries =
///   clients × (clients − 1) × messages, per second of wall time until the last one arrived.
/// - `irc.fanout.latency.p50/.p99`: send-to-receive time of each delivery (the send time travels in the text).
/// - `irc.idle.rss` and `.rss_per_conn`: the server's resident memory with `idle` registered idle connections
///   (needs the server's PID: given, or the pearircd this benchmark starts); `.anon_baseline` and
///   `.anon_per_conn`: the anonymous (private, heap and stacks) part of it, without the mapped program and shared
///   libraries, which other processes share and which dominate a fresh Swift process's RSS.
///
/// - `irc.fanout.server_cpu`: CPU time the server process used during the fan-out (user + system, from /proc), and
///   `irc.fanout.per_cpu_second`: deliveries per second of that CPU time — the server's own cost, which still
///   compares servers when the load generator (one core) is what limits `delivered`.
///
/// Missing deliveries are reported (`irc.fanout.missing`), never ignored. The load generator runs on one event
/// loop thread, leaving the other core to the server.
enum IRCBenchmarks {
    struct Options {
        var host = "127.0.0.1"
        var port: Int?
        var serverPID: Int32?
        var label = "pearircd"
        var clients = 50
        var messages = 100
        var size = 40
        var rate = 0
        var idle = 1000
        var timeout: Duration = .seconds(120)
        var channel = "#load"
        /// The server started when no `port` is given: pearircd, or nio-floor (idle memory only; it has no channels).
        var startedServer = StartedServer.pearircd
        /// The pearircd to start (`--pearircd`: another build's, so old and new are measured by one tool); by default
        /// the one beside this binary.
        var pearircd: URL?
    }

    enum StartedServer {
        case pearircd
        /// `nio-floor`: the least IRC server SwiftNIO allows, the memory floor under pearircd's figures.
        case nioFloor
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ options: Options, report: BenchmarkReport) async throws {
        var options = options
        var server: Process?
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-irc-\(UUID().uuidString)")
        defer {
            server?.terminate()
            server?.waitUntilExit()
            try? FileManager.default.removeItem(at: directory)
        }
        if options.port == nil {
            let (process, port) =
                switch options.startedServer {
                case .pearircd:
                    try startServer(
                        "pearircd", binary: options.pearircd,
                        arguments: [
                            "run", "--standalone", "--port", "0", "--no-tls", "--history-on-join", "0",
                            "--data-dir", directory.path,
                        ])
                case .nioFloor: try startServer("nio-floor", arguments: ["0"])
                }
            server = process
            options.port = port
            options.serverPID = process.processIdentifier
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            // Idle memory first, on the fresh server, so the fan-out's buffers and history do not blur it.
            if options.idle > 0, let pid = options.serverPID {
                try await idle(options, pid: pid, group: group, report: report)
            }
            if options.startedServer != .nioFloor {
                try await fanout(options, pid: options.serverPID, group: group, report: report)
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    static func fanout(_ options: Options, pid: Int32?, group: any EventLoopGroup, report: BenchmarkReport) async throws {
        let port = options.port ?? 6667
        var clients: [IRCLoadClient] = []
        for index in 0..<options.clients {
            clients.append(try await IRCLoadClient.connect(nick: "load\(index)", host: options.host, port: port, group: group))
        }
        for client in clients { client.write("JOIN \(options.channel)\r\n") }
        for client in clients { try await client.sync("joined") }
        let parameters = [
            "server": options.label, "clients": "\(options.clients)", "messages": "\(options.messages)",
            "size": "\(options.size)", "rate": "\(options.rate)",
        ]
        let expectedEach = (options.clients - 1) * options.messages
        let padding = String(repeating: "x", count: options.size)
        let cpuBefore = pid.flatMap { try? cpuSeconds(pid: $0) }
        let start = ContinuousClock.now
        if options.rate > 0 {
            let interval = Duration.seconds(1) / options.rate
            for number in 0..<options.messages {
                for client in clients {
                    client.write("PRIVMSG \(options.channel) :t=\(DispatchTime.now().uptimeNanoseconds) \(number) \(padding)\r\n")
                }
                try await Task.sleep(until: start + interval * (number + 1), clock: .continuous)
            }
        } else {
            for client in clients {
                for number in 0..<options.messages {
                    client.enqueue("PRIVMSG \(options.channel) :t=\(DispatchTime.now().uptimeNanoseconds) \(number) \(padding)\r\n")
                }
                client.flush()
            }
        }
        // Wait for the deliveries: polled, since they arrive on the event loop across fifty connections.
        let deadline = ContinuousClock.now + options.timeout
        var lastProgress = (count: -1, at: ContinuousClock.now)
        while ContinuousClock.now < deadline {
            let received = clients.reduce(0) { sum, client in sum + client.counters.withLock { $0.received } }
            if received >= expectedEach * options.clients { break }
            if received != lastProgress.count { lastProgress = (received, ContinuousClock.now) }
            // A server that stopped delivering (dropped lines, killed clients) ends the wait early.
            if ContinuousClock.now - lastProgress.at > .seconds(10) { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        let elapsed = ContinuousClock.now - start
        let cpuAfter = pid.flatMap { try? cpuSeconds(pid: $0) }
        let seconds = seconds(elapsed)
        var latencies: [Double] = []
        var delivered = 0
        for client in clients {
            client.counters.withLock { counters in
                delivered += counters.received
                latencies += counters.latenciesMs
                counters.latenciesMs = []
                counters.received = 0
            }
            client.close()
        }
        report.figure("irc.fanout.delivered", Double(delivered) / seconds, "msg/s", parameters)
        if !latencies.isEmpty {
            latencies.sort()
            report.figure("irc.fanout.latency.p50", latencies[latencies.count / 2], "ms", parameters)
            report.figure("irc.fanout.latency.p99", latencies[min(latencies.count - 1, latencies.count * 99 / 100)], "ms", parameters)
        }
        if let cpuBefore, let cpuAfter, cpuAfter > cpuBefore {
            report.figure("irc.fanout.server_cpu", cpuAfter - cpuBefore, "s", parameters)
            report.figure("irc.fanout.per_cpu_second", Double(delivered) / (cpuAfter - cpuBefore), "msg/cpu-s", parameters)
        }
        let missing = expectedEach * options.clients - delivered
        if missing > 0 { report.figure("irc.fanout.missing", Double(missing), "msg", parameters) }
    }

    static func idle(_ options: Options, pid: Int32, group: any EventLoopGroup, report: BenchmarkReport) async throws {
        let port = options.port ?? 6667
        let before = try residentKiB(pid: pid)
        let anonymousBefore = try residentKiB(pid: pid, field: "RssAnon")
        var clients: [IRCLoadClient] = []
        for batchStart in stride(from: 0, to: options.idle, by: 100) {
            try await withThrowingTaskGroup(of: IRCLoadClient.self) { tasks in
                for index in batchStart..<min(options.idle, batchStart + 100) {
                    tasks.addTask {
                        try await IRCLoadClient.connect(nick: "idle\(index)", host: options.host, port: port, group: group)
                    }
                }
                for try await client in tasks { clients.append(client) }
            }
        }
        if let last = clients.last { try await last.sync("idle") }
        let after = try residentKiB(pid: pid)
        let anonymousAfter = try residentKiB(pid: pid, field: "RssAnon")
        let parameters = ["server": options.label, "connections": "\(options.idle)"]
        report.figure("irc.idle.rss_baseline", Double(before) / 1024, "MiB", ["server": options.label])
        report.figure("irc.idle.rss", Double(after) / 1024, "MiB", parameters)
        report.figure("irc.idle.rss_per_conn", Double(after - before) / Double(options.idle), "KiB", parameters)
        report.figure("irc.idle.anon_baseline", Double(anonymousBefore) / 1024, "MiB", ["server": options.label])
        report.figure(
            "irc.idle.anon_per_conn", Double(anonymousAfter - anonymousBefore) / Double(options.idle), "KiB", parameters)
        for client in clients { client.close() }
    }

    /// User + system CPU time of a process so far (`/proc/PID/stat` fields 14 and 15, in clock ticks).
    static func cpuSeconds(pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name, which is in parentheses and may contain spaces.
        guard let close = stat.lastIndex(of: ")") else { throw Failure(description: "unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw Failure(description: "unreadable /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A resident-memory field of `/proc/PID/status` in KiB: `VmRSS` (all of it) or `RssAnon`, `RssFile`.
    static func residentKiB(pid: Int32, field: String = "VmRSS") throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("\(field):") }),
            let value = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) })
        else { throw Failure(description: "no \(field) for process \(pid)") }
        return value
    }

    /// Starts `name` (a server built next to this binary) with `arguments`; returns it and its port, once it printed
    /// `listening plain HOST PORT` (as pearircd and nio-floor do when their listener is bound).
    static func startServer(_ name: String, binary: URL? = nil, arguments: [String]) throws -> (Process, Int) {
        let server = try ServerProcess.start(binary ?? ServerProcess.besideThisBinary(name), arguments: arguments)
        return (server.process, server.ports["plain"] ?? 0)
    }
}
