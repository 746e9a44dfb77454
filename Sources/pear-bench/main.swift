// pear-bench: PearIRC's benchmarks. Always run in release mode:
//   swift run -c release pear-bench [hyperlog] [replication] [swarm] [p2p] [--entries N]
// Each figure is one line: name, value, unit, parameters.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count,
        let parsed = Int(arguments[index + 1])
    else { return value }
    return parsed
}
let suites = arguments.filter { !$0.hasPrefix("--") && Int($0) == nil }
let selected = suites.isEmpty ? ["hyperlog"] : suites
let report = BenchmarkReport()

for suite in selected {
    switch suite {
    case "hyperlog":
        try await HyperLogBenchmarks.run(
            entries: option("--entries", default: 1_000_000), batchSize: option("--batch", default: 1000),
            singleAppends: option("--single", default: 2000), gets: option("--gets", default: 100_000), report: report)
    case "swarm":
        try await SwarmBenchmarks.run(
            megabytes: option("--megabytes", default: 256), handshakes: option("--handshakes", default: 500), report: report)
    case "p2p":
        try await P2PBenchmarks.latency(rate: 10, count: option("--slow-count", default: 100), report: report)
        try await P2PBenchmarks.latency(rate: 1000, count: option("--fast-count", default: 5000), report: report)
        try await P2PBenchmarks.throughput(writers: 10, perWriter: option("--per-writer", default: 500), report: report)
    case "replication":
        try await HyperLogBenchmarks.replication(entries: option("--entries", default: 100_000), report: report)
    default:
        FileHandle.standardError.write(Data("unknown suite \(suite); known: hyperlog, replication, swarm, p2p\n".utf8))
        exit(2)
    }
}
