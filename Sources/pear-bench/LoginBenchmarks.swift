import Foundation
import HyperLog
import IRCServer
import Logging
import PearBridge
import Sodium

/// Issue 20's login figures: what one password login costs at the chosen Argon2id cost (through `AccountLogins`, the
/// database read and the last-login write included), how many logins a second the gateway takes with its hashing gate,
/// and what a flood of concurrent logins takes with the gate and without it (side by side). Each hash holds the cost's
/// memory (64 MiB) while it runs; the peak resident set is measured over the one hash already done (getrusage's
/// maximum only grows), so a flood's figure is what hashing side by side added.
/// SCRAM's server side is shown for scale: the client does the expensive part.
enum LoginBenchmarks {
    static func run(rounds: Int, flood: Int, report: BenchmarkReport) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-login-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try AccountDatabase(file: directory.appendingPathComponent(AccountDatabase.fileName))
        let identity = Ed25519.randomKeyPair()
        try database.add(AccountName("bench"), password: Array("a long enough password".utf8), role: .admin, identity: identity)
        let gate = HashingGate()
        let logins = AccountLogins(database: database, hashing: gate, logger: Logger(label: "bench"))
        let cost = PasswordHash.Cost.interactive
        let parameters = ["ops": "\(cost.operations)", "memory": "\(cost.memoryBytes >> 20) MiB"]

        var times: [Double] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            guard await logins.authenticate(.plain(user: "bench", password: "a long enough password")) != nil else {
                throw BenchmarkFailure("the benchmark account did not log in")
            }
            times.append(milliseconds(ContinuousClock.now - start))
        }
        times.sort()
        report.figure("login.plain_one", times[times.count / 2], "ms", parameters.merging(["rounds": "\(rounds)", "stat": "median"]) { $1 })

        // A flood through the gate (as the gateway takes it), then the same flood hashing all at once.
        func floodOf(_ count: Int, gated: Bool) async -> (seconds: Double, succeeded: Int) {
            let start = ContinuousClock.now
            let succeeded = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        if gated { return await logins.authenticate(.plain(user: "bench", password: "a long enough password")) != nil }
                        return (try? database.verify(AccountName("bench"), password: Array("a long enough password".utf8))) != nil
                    }
                }
                var total = 0
                for await ok in group where ok { total += 1 }
                return total
            }
            return (milliseconds(ContinuousClock.now - start) / 1000, succeeded)
        }
        let beforeGated = maximumResidentMiB()
        let gated = await floodOf(flood, gated: true)
        let gatedPeak = maximumResidentMiB() - beforeGated
        report.figure(
            "login.flood_gated_rate", Double(gated.succeeded) / gated.seconds, "logins/s",
            parameters.merging(["logins": "\(flood)", "succeeded": "\(gated.succeeded)", "concurrent": "\(gate.concurrent)", "waiting": "\(gate.waiting)"]) { $1 })
        report.figure("login.flood_gated_memory", max(0, gatedPeak), "MiB", ["stat": "peak RSS growth over one hash's", "logins": "\(flood)"])
        let beforeOpen = maximumResidentMiB()
        let open = await floodOf(flood, gated: false)
        report.figure(
            "login.flood_ungated_rate", Double(open.succeeded) / open.seconds, "logins/s",
            parameters.merging(["logins": "\(flood)", "concurrent": "all"]) { $1 })
        report.figure("login.flood_ungated_memory", maximumResidentMiB() - beforeOpen, "MiB", ["stat": "peak RSS growth over one hash's", "logins": "\(flood)"])

        // SCRAM: the server reads the stored credentials (the proof check is a few hashes).
        var scram: [Double] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            _ = logins.scramCredentials(for: "bench")
            scram.append(milliseconds(ContinuousClock.now - start) * 1000)
        }
        scram.sort()
        report.figure("login.scram_server_lookup", scram[scram.count / 2], "µs", ["rounds": "\(rounds)", "stat": "median"])
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// The process's peak resident set so far (getrusage's ru_maxrss, KiB on Linux), in MiB.
    static func maximumResidentMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    struct BenchmarkFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
