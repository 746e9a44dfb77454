// pear-bench: PearIRC's benchmarks. Always run in release mode:
//   swift run -c release pear-bench [hyperlog] [replication] [swarm] [p2p] [irc] [--entries N]
//   p2p: gateways A and B (the pearircd next to this binary, or --pearircd PATH) as processes, 10 talkers on A and 5
//        listeners on B, beside the same clients on a standalone server; then ten writer gateways into one room
//   irc: against the pearircd next to this binary (or --pearircd PATH), or any server: --port N [--server-pid PID] [--label NAME]
//   history: rooms of 0 / 10k / 100k / 1M lines served by the pearircd next to this binary [--lines N]
//   udx: one UDX stream over loopback, raw and encrypted, beside udx-native in Node (--interop DIR, default ../interop)
//        and secret-stream over TCP; CPU per GB; memory per open stream [--megabytes N] [--streams N]
//   dht: announce and lookup on 5- and 50-node test nets, beside hyperdht in Node [--rounds N --interop DIR]
//   swarm-rooms: swarm join/connect beside hyperswarm in Node (--interop DIR), JOIN-to-line between two gateways found
//        on a loopback test net, 1,000 lines/s between them [--rounds N]
//   private-rooms: the Argon2id derivation one private-room join costs [--rounds N]
//   login: a password login at the accounts' Argon2id cost, a flood of logins through the hashing gate beside the same
//        flood hashing at once (rate and peak memory), SCRAM's server-side look-up [--rounds N --logins N]
//   p2p-direct: direct messages between two gateways at 100 lines/s, beside room lines on the same path and private
//        messages on one standalone server [--rate N --lines N]
//   nat-matrix: connect by key across the 25 pairs of NAT kinds built in network namespaces (root) [--runs N]
//   udx-lossy: secret-stream over UDX and over TCP (CUBIC) in a namespace dropping 1 % / 5 % of packets (root)
//   floor: idle memory of nio-floor (the least IRC server SwiftNIO allows) next to this binary [--idle N]
// Each figure is one line: name, value, unit, parameters.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count,
        let parsed = Int(arguments[index + 1])
    else { return value }
    return parsed
}
func textOption(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let valueOptions: Set<String> = ["--label", "--host", "--lines", "--pearircd", "--interop"]
let suites = arguments.enumerated().filter { index, argument in
    !argument.hasPrefix("--") && Int(argument) == nil && !(index > 0 && valueOptions.contains(arguments[index - 1]))
}.map(\.element)
let selected = suites.isEmpty ? ["hyperlog"] : suites
let report = BenchmarkReport()

for suite in selected {
    switch suite {
    case "hyperlog":
        try await HyperLogBenchmarks.run(
            entries: option("--entries", default: 1_000_000), batchSize: option("--batch", default: 1000),
            singleAppends: option("--single", default: 2000), gets: option("--gets", default: 100_000), report: report)
    case "udx":
        try await UDXBenchmarks.run(
            megabytes: option("--megabytes", default: 64), streams: option("--streams", default: 10_000),
            interop: textOption("--interop") ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                .deletingLastPathComponent().appendingPathComponent("interop").path,
            report: report)
    case "dht":
        try await DHTBenchmarks.run(
            rounds: option("--rounds", default: 20),
            interop: textOption("--interop") ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                .deletingLastPathComponent().appendingPathComponent("interop").path,
            report: report)
    case "swarm-rooms":
        try await SwarmRoomBenchmarks.run(
            rounds: option("--rounds", default: 10),
            interop: textOption("--interop") ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                .deletingLastPathComponent().appendingPathComponent("interop").path,
            pearircd: textOption("--pearircd").map { URL(fileURLWithPath: $0) } ?? ServerProcess.besideThisBinary("pearircd"),
            report: report)
    case "private-rooms":
        try PrivateRoomBenchmarks.run(rounds: option("--rounds", default: 10), report: report)
    case "login":
        try await LoginBenchmarks.run(rounds: option("--rounds", default: 10), flood: option("--logins", default: 16), report: report)
    case "nat-matrix":
        try await NATMatrixBenchmarks.run(runs: option("--runs", default: 3), report: report)
    case "udx-lossy":
        try await UDXLossyBenchmarks.run(megabytes: option("--megabytes", default: 32), report: report)
    case "swarm":
        try await SwarmBenchmarks.run(
            megabytes: option("--megabytes", default: 256), handshakes: option("--handshakes", default: 500), report: report)
    case "p2p":
        var options = P2PLoadBenchmarks.Options()
        if let path = textOption("--pearircd") { options.pearircd = URL(fileURLWithPath: path) }
        options.talkers = option("--talkers", default: options.talkers)
        options.listeners = option("--listeners", default: options.listeners)
        options.rate = option("--rate", default: options.rate)
        options.seconds = option("--seconds", default: options.seconds)
        options.singleLines = option("--single-lines", default: options.singleLines)
        options.sustainedRate = option("--sustained-rate", default: options.sustainedRate)
        options.sustainedLines = option("--sustained-lines", default: options.sustainedLines)
        options.catchUp = !arguments.contains("--no-catchup")
        options.reference = !arguments.contains("--no-reference")
        try await P2PLoadBenchmarks.run(options, report: report)
        try await P2PBenchmarks.throughput(writers: 10, perWriter: option("--per-writer", default: 500), report: report)
    case "p2p-direct":
        var options = P2PLoadBenchmarks.Options()
        if let path = textOption("--pearircd") { options.pearircd = URL(fileURLWithPath: path) }
        try await P2PLoadBenchmarks.direct(
            options, rate: option("--rate", default: 100), lines: option("--lines", default: 3000), report: report)
    case "replication":
        try await HyperLogBenchmarks.replication(entries: option("--entries", default: 100_000), report: report)
    case "irc":
        var options = IRCBenchmarks.Options()
        if let port = textOption("--port").flatMap(Int.init) { options.port = port }
        if let pid = textOption("--server-pid").flatMap(Int32.init) { options.serverPID = pid }
        if let label = textOption("--label") { options.label = label }
        if let host = textOption("--host") { options.host = host }
        if let path = textOption("--pearircd") { options.pearircd = URL(fileURLWithPath: path) }
        options.clients = option("--clients", default: options.clients)
        options.messages = option("--messages", default: options.messages)
        options.size = option("--size", default: options.size)
        options.rate = option("--rate", default: options.rate)
        options.idle = option("--idle", default: options.idle)
        try await IRCBenchmarks.run(options, report: report)
    case "history":
        // Rooms of 10,000 / 100,000 / 1,000,000 lines (or --lines N), and an empty one for comparison.
        let sizes = textOption("--lines").flatMap(Int.init).map { [$0] } ?? [0, 10_000, 100_000, 1_000_000]
        for lines in sizes { try await HistoryBenchmarks.run(lines: lines, report: report) }
    case "floor":
        var options = IRCBenchmarks.Options()
        options.label = "nio-floor"
        options.startedServer = .nioFloor
        options.idle = option("--idle", default: options.idle)
        try await IRCBenchmarks.run(options, report: report)
    default:
        FileHandle.standardError.write(Data("unknown suite \(suite); known: hyperlog, replication, swarm, p2p, irc, history, floor\n".utf8))
        exit(2)
    }
}
