import Foundation
import PearBridge
import Sodium

/// Issue 19's cost figure: the time one private-room join spends deriving the room's keys (Argon2id at
/// `PrivateRoomKeys.cost`), and what the same costs at libsodium's "interactive" and "moderate" settings, for scale.
enum PrivateRoomBenchmarks {
    static func run(rounds: Int, report: BenchmarkReport) throws {
        func median(_ cost: PasswordHash.Cost) throws -> Double {
            var times: [Double] = []
            for round in 0..<rounds {
                let start = ContinuousClock.now
                _ = try PrivateRoomKeys(foldedChannelName: "#bench-\(round)", secret: "a secret", cost: cost)
                let elapsed = ContinuousClock.now - start
                times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            }
            return times.sorted()[times.count / 2]
        }
        let chosen = PrivateRoomKeys.cost
        report.figure(
            "private_room.join_derivation", try median(chosen), "ms",
            ["ops": "\(chosen.operations)", "memory": "\(chosen.memoryBytes >> 20) MiB", "rounds": "\(rounds)"])
        let interactive = PasswordHash.Cost.interactive
        report.figure(
            "private_room.derivation_at_interactive", try median(interactive), "ms",
            ["ops": "\(interactive.operations)", "memory": "\(interactive.memoryBytes >> 20) MiB", "rounds": "\(rounds)"])
    }
}
