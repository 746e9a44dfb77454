import Foundation
import HyperLog
import Sodium

/// Issue 3's HyperLog figures: batched and single durable appends, random gets, bytes on disk per entry, and the
/// per-entry cost of each part (hashing, signing, storage) so the totals can be read against their limits.
enum HyperLogBenchmarks {
    static func run(entries: Int, batchSize: Int, singleAppends: Int, gets: Int, report: BenchmarkReport) async throws {
        let entrySize = 100
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let payload = (0..<entries).map { index -> [UInt8] in
            var block = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: entrySize)
            withUnsafeBytes(of: UInt64(index).littleEndian) { block.replaceSubrange(0..<8, with: $0) }
            return block
        }
        let batches = stride(from: 0, to: entries, by: batchSize).map {
            Array(payload[$0..<min($0 + batchSize, entries)])
        }
        let parameters = ["entries": "\(entries)", "entry_bytes": "\(entrySize)", "batch": "\(batchSize)"]

        // Parts, each on its own.
        let hashing = measure {
            var tree = MerkleTree()
            for batch in batches { tree.append(batch, cacheNodes: false) }
        }
        report.figure("hyperlog.part.hash_per_entry", hashing / Double(entries) * 1e9, "ns", parameters)
        let keyPair = Ed25519.randomKeyPair()
        let signable = RandomBytes.generate(count: 112)
        let signings = 2000
        let signing = measure { for _ in 0..<signings { _ = Ed25519.sign(signable, keyPair: keyPair) } }
        report.figure("hyperlog.part.sign", signing / Double(signings) * 1e6, "us/signature")
        report.figure(
            "hyperlog.part.sign_per_entry", signing / Double(signings) / Double(batchSize) * 1e9, "ns", parameters)

        // The whole append path: hash, sign, one SQLite transaction per batch.
        let store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "bench")
        let appendSeconds = try await measureAsync {
            for batch in batches { try await log.append(batch) }
        }
        report.figure("hyperlog.append_batched", Double(entries) / appendSeconds, "entries/s", parameters)
        report.figure(
            "hyperlog.append_batched_throughput", Double(entries * entrySize) / appendSeconds / 1e6, "MB/s",
            parameters)
        report.figure(
            "hyperlog.part.storage_per_entry",
            max(0, appendSeconds / Double(entries) - hashing / Double(entries)
                - signing / Double(signings) / Double(batchSize)) * 1e9,
            "ns", parameters)

        try store.storage.checkpoint()
        report.figure(
            "hyperlog.disk_bytes_per_entry", Double(try store.storage.diskUsage()) / Double(entries), "bytes",
            parameters)

        // Random gets.
        var rng = SystemRandomNumberGenerator()
        let indices = (0..<gets).map { _ in UInt64.random(in: 0..<UInt64(entries), using: &rng) }
        let getSeconds = try await measureAsync {
            for index in indices { _ = try await log.get(index) }
        }
        report.figure("hyperlog.get_random", Double(gets) / getSeconds, "ops/s", ["gets": "\(gets)", "entries": "\(entries)"])

        // Single-entry durable appends: one transaction and one fsync each.
        let single = try await store.writableLog(name: "bench-single")
        let singleSeconds = try await measureAsync {
            for index in 0..<singleAppends { try await single.append([payload[index % payload.count]]) }
        }
        report.figure("hyperlog.append_single_durable", Double(singleAppends) / singleSeconds, "entries/s",
            ["appends": "\(singleAppends)", "entry_bytes": "\(entrySize)"])
    }

    /// Full replication of `entries` blocks from a writer to an empty replica over an in-process loopback:
    /// encode, decode, proof generation, verification (hashes and signature) and storage on both sides.
    static func replication(entries: Int, report: BenchmarkReport) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writerStore = try LogStore(directory: directory.appendingPathComponent("writer"))
        let readerStore = try LogStore(directory: directory.appendingPathComponent("reader"))
        let writer = try await writerStore.writableLog(name: "bench")
        let payload = (0..<entries).map { index in
            var block = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 100)
            withUnsafeBytes(of: UInt64(index).littleEndian) { block.replaceSubrange(0..<8, with: $0) }
            return block
        }
        for start in stride(from: 0, to: entries, by: 1000) {
            try await writer.append(Array(payload[start..<min(start + 1000, entries)]))
        }
        let reader = try await readerStore.replica(key: writer.key)
        var configuration = ReplicationSession.Configuration()
        configuration.maximumInflight = 1024
        let target = UInt64(entries)
        let seconds = try await measureAsync {
            let loopback = try await ReplicationLoopback.connect(
                initiator: writer, responder: reader, configuration: configuration)
            let done = await loopback.pump(timeout: .seconds(600)) { await reader.contiguousLength == target }
            await loopback.stop()
            guard done else { throw HyperLogError.invalidRequest("replication did not finish") }
        }
        let parameters = ["entries": "\(entries)", "entry_bytes": "100", "inflight": "1024"]
        report.figure("hyperlog.replicate_full", Double(entries) / seconds, "entries/s", parameters)

        // Verification alone: the leaf and path hashes a replica recomputes per block, without storage or wire.
        var tree = MerkleTree()
        let verifySeconds = measure {
            for start in stride(from: 0, to: entries, by: 1000) {
                tree.append(Array(payload[start..<min(start + 1000, entries)]), cacheNodes: false)
            }
        }
        report.figure("hyperlog.part.verify_hash_per_entry", verifySeconds / Double(entries) * 1e9, "ns", parameters)
    }
}
