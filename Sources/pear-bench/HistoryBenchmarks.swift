import Foundation
import HyperLog
import IRCServer
import PearBridge

/// Issue 13's figures for rooms that have grown: a room of `lines` entries from ten writers is generated straight
/// into a data directory (signed logs and `rooms.json`, as a gateway that lived through them would have), then
/// `pearircd run` (next to this binary) starts on it, and an IRC client measures:
///
/// - `history.start`: from spawning the process to the first answered CHATHISTORY (the gateway restored its rooms);
/// - `history.rss` / `.rss_anon`: the process's resident memory then (all of it / anonymous only);
/// - `history.before.p50/.p99`: CHATHISTORY BEFORE at random points of the room, 50 lines each, request to batch end;
/// - `history.join_replay.p50`: JOIN to the end of the 50-line replay, for a client without chathistory.
enum HistoryBenchmarks {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let channel = "#bench"

    static func run(lines: Int, writers: Int = 10, requests: Int = 200, report: BenchmarkReport) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-history-\(UUID().uuidString)")
        // PEAR_BENCH_KEEP=1 keeps the data directory (its path is printed) for profiling a start by hand.
        let keep = ProcessInfo.processInfo.environment["PEAR_BENCH_KEEP"] == "1"
        if keep { FileHandle.standardError.write(Data("history: data directory \(directory.path)\n".utf8)) }
        defer { if !keep { try? FileManager.default.removeItem(at: directory) } }
        let firstTime: UInt64 = 1_780_000_000_000
        let generation = try await measureAsync {
            try await generate(in: directory, lines: lines, writers: writers, firstTime: firstTime)
        }
        let parameters = ["lines": "\(lines)", "writers": "\(writers)"]
        report.figure("history.generate", generation, "s", parameters)

        // The first start indexes every entry (as a gateway upgraded from an older version, or whose index was lost,
        // does once); it is stopped as a user would (SIGTERM), and the second start, from the index, is measured.
        do {
            let (process, _, firstStart) = try startAndAsk(directory)
            report.figure("history.first_start", firstStart, "s", parameters)
            stop(process)
        }
        // Starts from the index, three times (the first may meet the disk still writing back what the indexing
        // start checkpointed): the median and the slowest are reported; the last process serves the rest.
        var starts: [Double] = []
        for _ in 0..<2 {
            let (process, _, start) = try startAndAsk(directory)
            starts.append(start)
            stop(process)
        }
        let (process, port, start) = try startAndAsk(directory)
        defer { stop(process) }
        starts.append(start)
        report.figure("history.start", percentile(starts, 0.5), "s", parameters)
        report.figure("history.start.max", starts.max() ?? 0, "s", parameters)
        let reader = try LineSocket(port: port)
        try reader.send("CAP REQ :draft/chathistory batch server-time message-tags\r\nCAP END\r\nNICK reader\r\nUSER r 0 * :r\r\n")
        _ = try reader.read(until: { $0.contains(" 001 reader ") })
        try reader.send("JOIN \(channel)\r\n")
        _ = try reader.read(until: { $0.contains(" 366 reader ") })
        let pid = process.processIdentifier
        report.figure("history.rss", Double(try IRCBenchmarks.residentKiB(pid: pid)) / 1024, "MiB", parameters)
        report.figure("history.rss_anon", Double(try IRCBenchmarks.residentKiB(pid: pid, field: "RssAnon")) / 1024, "MiB", parameters)

        // CHATHISTORY BEFORE at random times across the room's span.
        var generator = SystemRandomNumberGenerator()
        let span = UInt64(max(lines, 1))
        var latencies: [Double] = []
        var served = 0
        for _ in 0..<requests {
            let at = Date(timeIntervalSince1970: Double(firstTime + UInt64.random(in: 0...span, using: &generator)) / 1000)
            let started = ContinuousClock.now
            try reader.send("CHATHISTORY BEFORE \(channel) timestamp=\(IRCServerTime.format(at)) 50\r\n")
            let answer = try reader.read(until: { $0.hasPrefix("BATCH -") || $0.contains(" BATCH -") })
            latencies.append(seconds(ContinuousClock.now - started) * 1000)
            served += answer.count { $0.contains(" PRIVMSG \(channel) ") }
        }
        report.figure("history.before.p50", percentile(latencies, 0.5), "ms", parameters)
        report.figure("history.before.p99", percentile(latencies, 0.99), "ms", parameters)
        report.figure("history.before.lines_per_answer", Double(served) / Double(max(requests, 1)), "lines", parameters)

        // Join replay for a client without chathistory (it gets the last 50 lines in a batch).
        let joiner = try LineSocket(port: port)
        try joiner.send("CAP REQ :batch server-time\r\nCAP END\r\nNICK joiner\r\nUSER j 0 * :j\r\n")
        _ = try joiner.read(until: { $0.contains(" 001 joiner ") })
        var joins: [Double] = []
        for round in 0..<20 {
            let started = ContinuousClock.now
            try joiner.send("JOIN \(channel)\r\n")
            if lines > 0 {
                _ = try joiner.read(until: { $0.hasPrefix("BATCH -") || $0.contains(" BATCH -") })
            } else {
                _ = try joiner.read(until: { $0.contains(" 366 joiner ") })
            }
            joins.append(seconds(ContinuousClock.now - started) * 1000)
            try joiner.send("PART \(channel)\r\nPING :p\(round)\r\n")
            _ = try joiner.read(until: { $0.hasSuffix("p\(round)") })
        }
        report.figure("history.join_replay.p50", percentile(joins, 0.5), "ms", parameters)
    }

    /// Stops a server as a user would (SIGTERM) and waits for it to exit (closing its store cleanly).
    static func stop(_ process: Process) {
        process.terminate()
        process.waitUntilExit()
    }

    /// Starts `pearircd run` on the data directory and returns once it answers a CHATHISTORY (its rooms are
    /// restored): the process, its IRC port, and the seconds from spawning it.
    static func startAndAsk(_ directory: URL) throws -> (Process, Int, Double) {
        let spawned = ContinuousClock.now
        let (process, port) = try IRCBenchmarks.startServer(
            "pearircd",
            arguments: [
                "run", "--data-dir", directory.path, "--port", "0", "--no-tls", "--peer-host", "127.0.0.1",
                "--peer-port", "0", "--history-on-join", "50", "--no-dht",
            ])
        let asker = try LineSocket(port: port)
        try asker.send("CAP REQ :draft/chathistory batch server-time message-tags\r\nCAP END\r\nNICK asker\r\nUSER a 0 * :a\r\n")
        _ = try asker.read(until: { $0.contains(" 001 asker ") })
        // Asking for history takes being in the channel.
        try asker.send("JOIN \(channel)\r\nCHATHISTORY LATEST \(channel) * 1\r\n")
        _ = try asker.read(until: { $0.hasPrefix("BATCH -") || $0.contains(" BATCH -") })
        try asker.send("QUIT\r\n")
        return (process, port, seconds(ContinuousClock.now - spawned))
    }

    /// Ten writers' logs in one store, entries interleaved by Lamport clock (writer w's k-th entry has clock
    /// k·writers + w + 1), one millisecond apart, the first a nick; and `rooms.json` naming them, joined.
    static func generate(in directory: URL, lines: Int, writers: Int, firstTime: UInt64) async throws {
        let store = try LogStore(directory: directory.appendingPathComponent("store"))
        let topic = RoomTopic(foldedChannelName: channel)
        var logs: [SignedLog] = [try await store.writableLog(name: topic.logName)]
        for index in 1..<writers { logs.append(try await store.writableLog(name: "bench/writer-\(index)")) }
        let perWriter = (lines + writers - 1) / writers
        for (writer, log) in logs.enumerated() {
            var batch: [[UInt8]] = []
            for index in 0..<perWriter {
                let number = index * writers + writer
                guard number < lines || index == 0 else { break }
                let kind: RoomEntry.Kind = index == 0 ? .nick : .message
                let text = index == 0 ? "writer\(writer)" : "line \(number) from writer \(writer), some words of chat"
                batch.append(RoomEntry(kind: kind, timestamp: firstTime + UInt64(number), lamport: UInt64(number + 1), text: text).encoded())
                if batch.count == 10_000 {
                    try await log.append(batch)
                    batch = []
                }
            }
            if !batch.isEmpty { try await log.append(batch) }
        }
        try await store.close()
        struct Room: Encodable {
            var channel: String
            var joined: Bool
            var writers: [String]
        }
        let room = Room(channel: channel, joined: true, writers: logs.map { ZBase32.encode($0.key) }.sorted())
        try JSONEncoder().encode([room]).write(to: directory.appendingPathComponent("rooms.json"))
    }

}

/// A blocking line client for request/answer measurements (one request at a time, on the caller's thread).
final class LineSocket {
    private let descriptor: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HistoryBenchmarks.Failure(description: "cannot connect to port \(port)") }
        // Each request goes out at once, not held back by Nagle behind an unacknowledged earlier write.
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw HistoryBenchmarks.Failure(description: "send failed") }
            sent += count
        }
    }

    /// Reads lines (answering PINGs) until one satisfies `done`; returns every line read, that one included.
    func read(until done: (String) -> Bool) throws -> [String] {
        var lines: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(pending[..<newline])
                pending.removeFirst(newline + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                let text = String(decoding: line, as: UTF8.self)
                if text.hasPrefix("PING ") { try send("PONG " + text.dropFirst(5) + "\r\n") }
                lines.append(text)
                if text.contains(" FAIL ") || text.hasPrefix("FAIL ") || text.hasPrefix("ERROR ") {
                throw HistoryBenchmarks.Failure(description: "the server refused: \(text)")
            }
            if done(text) { return lines }
            }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw HistoryBenchmarks.Failure(description: "the server closed the connection; last: \(lines.suffix(3))") }
            pending += buffer[..<count]
        }
    }
}
