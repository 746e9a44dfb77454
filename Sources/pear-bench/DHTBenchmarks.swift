import CompactEncoding
import Foundation
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import SwarmEngine

/// Issue 16's figures: on in-process test nets of 5 and 50 persistent nodes on 127.0.0.1, an ephemeral node's time to
/// announce (LOOKUP walk, then the signed ANNOUNCE to the closest) and time from a lookup's start to its first peer
/// record (the lookup of the topic just announced; also to the end of its walk), and datagrams sent per lookup; memory
/// per 1,000 stored records.
/// Beside them, in the same run, hyperdht 6.33 in Node doing the same on its own 5-node test net (`--interop DIR`).
enum DHTBenchmarks {
    static func run(rounds: Int, interop: String?, report: BenchmarkReport) async throws {
        for size in [5, 50] {
            try await testNet(size: size, rounds: rounds, report: report)
        }
        memoryPerRecord(report: report)
        if let modules = interop.map({ URL(fileURLWithPath: $0).appendingPathComponent("ref/node_modules").path }),
            FileManager.default.fileExists(atPath: modules + "/hyperdht")
        {
            let result = try reference(modules: modules, rounds: rounds)
            let parameters = ["nodes": "5", "rounds": "\(rounds)"]
            report.figure("dht.reference_announce_median", median(result.announceMs), "ms", parameters)
            report.figure("dht.reference_lookup_median", median(result.lookupMs), "ms", parameters)
            if let connectMs = result.connectMs {
                report.figure("dht.reference_connect_median", median(connectMs), "ms", parameters)
            }
            if let punchedMs = result.punchedMs {
                report.figure("dht.reference_punched_connect_median", median(punchedMs), "ms", parameters)
            }
        } else {
            print("dht.reference skipped: no Node reference tree (pass --interop DIR, see ../shared/interop/README.md)")
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func testNet(size: Int, rounds: Int, report: BenchmarkReport) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let net = try await DHTTestNet.start(size: size, on: loop)
        let nodes = net.nodes, bootstrap = net.bootstrap
        let announcer = DHTNode(udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: [bootstrap]))
        let seeker = DHTNode(udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: [bootstrap]))
        try await loop.flatSubmit { announcer.start().and(seeker.start()).map { _ in } }.get()
        try await loop.flatSubmit { announcer.bootstrap().and(seeker.bootstrap()).map { _ in } }.get()

        var announceMs: [Double] = []
        var lookupMs: [Double] = []
        var walkMs: [Double] = []
        var datagrams: [Double] = []
        for round in 0..<rounds {
            let topic = BLAKE2b.hash256(Array("bench/\(round)/\(UInt64.random(in: 0...UInt64.max))".utf8))
            let keys = Ed25519.randomKeyPair()
            announceMs.append(try await measureAsync {
                _ = try await loop.flatSubmit { announcer.announce(topic, keyPair: keys) }.get()
            } * 1000)
            let before = try await loop.submit { seeker.clientSocket!.counters.datagramsSent + seeker.serverSocket!.counters.datagramsSent }.get()
            // The replies as the walk gets them: the first with the record, then on to the walk's end (so that
            // the datagram count is the whole lookup's).
            var found: Set<[UInt8]> = []
            var firstRecord: Double?
            let start = NIODeadline.now()
            for try await reply in seeker.lookupReplies(topic) {
                found.formUnion(reply.peers.map(\.publicKey))
                if firstRecord == nil, !reply.peers.isEmpty {
                    firstRecord = Double((NIODeadline.now() - start).nanoseconds) / 1e6
                }
            }
            walkMs.append(Double((NIODeadline.now() - start).nanoseconds) / 1e6)
            precondition(found == [keys.publicKey], "the lookup did not find the announce")
            lookupMs.append(firstRecord ?? 0)
            let after = try await loop.submit { seeker.clientSocket!.counters.datagramsSent + seeker.serverSocket!.counters.datagramsSent }.get()
            datagrams.append(Double(after - before))
        }
        let parameters = ["nodes": "\(size)", "rounds": "\(rounds)"]
        report.figure("dht.announce_median", median(announceMs), "ms", parameters)
        report.figure("dht.lookup_median", median(lookupMs), "ms", parameters)
        report.figure("dht.lookup_walk_median", median(walkMs), "ms", parameters)
        report.figure("dht.datagrams_per_lookup", median(datagrams), "datagrams", parameters)

        // Connecting by key: a fresh server on the announcer each round, the seeker connects and times until the
        // first message comes back (protomux over the secret-stream; the reference echoes a raw byte).
        let connectMs = try await connectTimes(
            rounds: rounds, server: announcer, client: seeker, path: .direct, localConnection: true, loop: loop)
        report.figure("dht.connect_median", median(connectMs), "ms", parameters)

        // Punched: both ends on firewalled nodes (no quick firewall check) and no local connection, as hyperdht's
        // own forced-punch test, so every connect runs the probe and punch rounds.
        let punchers = try await net.firewalledPeers(2, on: loop)
        let punchedMs = try await connectTimes(
            rounds: rounds, server: punchers[0], client: punchers[1], path: .punched, localConnection: false, loop: loop)
        report.figure("dht.punched_connect_median", median(punchedMs), "ms", parameters)

        try await DHTTestNet.close(nodes + [announcer, seeker] + punchers, on: loop)
        try await group.shutdownGracefully()
    }

    /// `rounds` times: a fresh server on `server` that echoes, `client` connects to it by key and the time until the
    /// echo of one message comes back, in milliseconds. Each connection must be made on `path`.
    static func connectTimes(
        rounds: Int, server: DHTNode, client: DHTNode, path: HyperDHTConnection.Path, localConnection: Bool,
        loop: any EventLoop
    ) async throws -> [Double] {
        var times: [Double] = []
        for _ in 0..<rounds {
            let serverKeys = Ed25519.randomKeyPair()
            let listening = try await loop.flatSubmit {
                server.listen(keyPair: serverKeys) { accepted in
                    let connection = accepted.connection
                    connection.open(protocol: "bench/echo", id: [], handshake: [])
                    Task {
                        for await event in connection.events {
                            if case .message(_, _, _, let message) = event {
                                connection.send(protocol: "bench/echo", id: [], type: 0, message: message)
                            }
                        }
                    }
                }
            }.get()
            let start = NIODeadline.now()
            let outgoing = try await loop.flatSubmit { client.connect(to: serverKeys.publicKey, localConnection: localConnection) }.get()
            precondition(outgoing.firstPath == path, "the benchmark's connection was made \(outgoing.firstPath), not \(path)")
            outgoing.connection.open(protocol: "bench/echo", id: [], handshake: [])
            outgoing.connection.send(protocol: "bench/echo", id: [], type: 0, message: [0x78])
            for await event in outgoing.connection.events {
                if case .message = event { break }
            }
            times.append(Double((NIODeadline.now() - start).nanoseconds) / 1e6)
            outgoing.connection.disconnect()
            _ = try await loop.flatSubmit { listening.close() }.get()
        }
        return times
    }

    /// Resident memory of 100,000 stored announce records (one relay address each), per 1,000.
    static func memoryPerRecord(report: BenchmarkReport) {
        let before = (try? IRCBenchmarks.residentKiB(pid: getpid(), field: "RssAnon")) ?? 0
        var limits = HyperDHTRecordStore.Limits()
        limits.maximumRecords = 200_000
        var store = HyperDHTRecordStore(limits: limits, now: 0)
        for index in 0..<100_000 {
            var target = [UInt8](repeating: 0, count: 32)
            withUnsafeBytes(of: UInt32(index).littleEndian) { target.replaceSubrange(0..<4, with: $0) }
            let peer = HyperDHTPeer(
                publicKey: BLAKE2b.hash256(target), relayAddresses: [IPv4Endpoint(address: UInt32(index), port: 49737)])
            store.announce(peer, under: target, now: 0)
        }
        let after = (try? IRCBenchmarks.residentKiB(pid: getpid(), field: "RssAnon")) ?? 0
        precondition(store.recordCount == 100_000)
        report.figure("dht.memory_per_1000_records", Double(after - before) / 100, "KiB", ["records": "100000"])
    }

    struct ReferenceResult: Decodable {
        let announceMs: [Double]
        let lookupMs: [Double]
        var connectMs: [Double]?
        var punchedMs: [Double]?
    }

    struct ConnectResult: Decodable {
        let connectMs: [Double]
    }

    static func reference(modules: String, rounds: Int) throws -> ReferenceResult {
        let data = try NodeScript.run(
            "dht-peer.js", arguments: ["testnet", "5"], modules: modules,
            input: "{\"bench\": \(rounds)}\n{\"benchConnect\": \(rounds)}\n{\"benchConnect\": \(rounds), \"firewalled\": true}\n",
            quiet: true
        ).output
        var result: ReferenceResult?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if line.contains("announceMs") {
                result = try JSONDecoder().decode(ReferenceResult.self, from: Data(line.utf8))
            } else if line.contains("connectMs") {
                let connectMs = try JSONDecoder().decode(ConnectResult.self, from: Data(line.utf8)).connectMs
                // The plain connects answer first, the punched ones second.
                if result?.connectMs == nil { result?.connectMs = connectMs } else { result?.punchedMs = connectMs }
            }
        }
        guard let result else { throw CocoaError(.fileReadCorruptFile) }
        return result
    }
}
