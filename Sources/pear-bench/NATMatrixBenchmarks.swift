import Foundation
import NetworkLab
import SwarmEngine

/// Issue 17's NAT matrix: every pair of the five host kinds of `NATLab` (both orders, 25 pairs), `runs` times, each
/// on a lab of its own; per pair and run whether the client connected to the server by public key within 30 s, how
/// (direct / punched / relayed), the time to the server's first message and the datagrams both peers sent. Prints
/// the table docs/nat-matrix.md holds. Root only (network namespaces).
enum NATMatrixBenchmarks {
    static func run(runs: Int, report: BenchmarkReport) async throws {
        if let reason = NATLab.unavailable {
            print("nat-matrix skipped: network namespaces are unavailable: \(reason)")
            return
        }
        var all: [[NATMatrix.Result]] = []
        for run in 1...runs {
            let results = try await NATMatrix.run(NATMatrix.Pair.all) { result in
                print("nat-matrix run \(run): \(result.pair): \(describe(result))")
            }
            all.append(results)
            for result in results {
                let parameters = ["client": result.pair.client.rawValue, "server": result.pair.server.rawValue, "run": "\(run)"]
                if let time = result.timeToFirstByte {
                    report.figure("nat_matrix.first_byte", milliseconds(time), "ms", parameters.merging(["path": result.path?.rawValue ?? ""]) { a, _ in a })
                }
                report.figure("nat_matrix.datagrams", Double(result.datagrams), "datagrams", parameters)
            }
        }
        let connected = all.map { $0.filter { $0.path != nil }.count }
        print("\nnat-matrix: connected \(connected.map { "\($0)/25" }.joined(separator: ", ")) in \(runs) run(s)\n")
        print(table(all))
    }

    static func describe(_ result: NATMatrix.Result) -> String {
        guard let path = result.path, let time = result.timeToFirstByte else { return "failed (\(result.error ?? "?"))" }
        return "\(path.rawValue) in \(format(milliseconds(time))), \(result.datagrams) datagrams"
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func format(_ milliseconds: Double) -> String {
        milliseconds >= 1000 ? String(format: "%.1f s", milliseconds / 1000) : String(format: "%.0f ms", milliseconds)
    }

    /// Client kinds down, server kinds across; each cell: the runs' times separated by " / ", and how.
    static func table(_ runs: [[NATMatrix.Result]]) -> String {
        let kinds = NATLab.HostKind.allCases
        var lines = ["| client ↓ \\ server → | " + kinds.map(\.rawValue).joined(separator: " | ") + " |"]
        lines.append("|---|" + kinds.map { _ in "---|" }.joined())
        for client in kinds {
            var cells: [String] = []
            for server in kinds {
                let results = runs.compactMap { $0.first { $0.pair == NATMatrix.Pair(client: client, server: server) } }
                let times = results.map { result in result.timeToFirstByte.map { format(milliseconds($0)) } ?? "fail" }
                let paths = Set(results.compactMap { $0.path?.rawValue }).sorted().joined(separator: "+")
                let datagrams = results.map(\.datagrams).max() ?? 0
                cells.append("\(times.joined(separator: " / ")) \(paths.isEmpty ? "" : "(\(paths), ≤\(datagrams) dg)")")
            }
            lines.append("| \(client.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
