import Foundation
import NIOCore
import NIOPosix
import Sodium
import SwarmEngine

/// Issue 15's figures, side by side in one run: throughput of one UDX stream over loopback, raw and under
/// secret-stream + protomux, next to udx-native 1.20.7 (+ @hyperswarm/secret-stream) doing the same in Node when the
/// reference tree is present (`--interop DIR`, default `../interop`), and to our own secret-stream over TCP; CPU per
/// MB; memory per open stream. Both ends of each transfer share one thread, ours as Node's (one event loop).
enum UDXBenchmarks {
    static func run(megabytes: Int, streams: Int, interop: String?, report: BenchmarkReport) async throws {
        let total = megabytes * 1024 * 1024
        let parameters = ["bytes": "\(total)", "write": "65536", "threads": "1"]
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()

        // Each UDX figure twice: with UDP segmentation and receive offload (our sockets' default where the kernel
        // has them) and without, which is how libudx sends (one datagram per sendmmsg entry, no GRO).
        var udxEncrypted = 0.0
        for offload in [true, false] {
            let suffix = offload ? "" : "_no_offload"
            var labelled = parameters
            labelled["offload"] = offload ? "gso+gro" : "none"
            // Raw UDX: stream A → B, 64 KiB writes as the send buffer takes them.
            let (rawSeconds, rawCPU) = try await cpuMeasured {
                try await rawTransfer(total: total, loop: loop, offload: offload, report: report)
            }
            report.figure("udx.raw" + suffix, Double(total) / rawSeconds / 1e6, "MB/s", labelled)
            report.figure("udx.raw_cpu" + suffix, rawCPU / Double(total) * 1e9, "ms/MB", labelled)

            // secret-stream + protomux over UDX, 64 KiB messages paced by the connection's flow control.
            let (encryptedSeconds, encryptedCPU) = try await cpuMeasured {
                try await encryptedOverUDX(total: total, loop: loop, offload: offload)
            }
            let encrypted = Double(total) / encryptedSeconds / 1e6
            if offload { udxEncrypted = encrypted }
            report.figure("udx.encrypted" + suffix, encrypted, "MB/s", labelled)
            report.figure("udx.encrypted_cpu" + suffix, encryptedCPU / Double(total) * 1e9, "ms/MB", labelled)
        }

        // The same layers over TCP on one thread.
        let (tcpSeconds, tcpCPU) = try await cpuMeasured { try await encryptedOverTCP(total: total, group: group) }
        let tcpEncrypted = Double(total) / tcpSeconds / 1e6
        report.figure("udx.tcp_encrypted", tcpEncrypted, "MB/s", parameters)
        report.figure("udx.tcp_encrypted_cpu", tcpCPU / Double(total) * 1e9, "ms/MB", parameters)
        report.figure("udx.encrypted_vs_tcp", udxEncrypted / tcpEncrypted * 100, "%", parameters)

        // The Node reference, same machine, same run.
        if let modules = interop.map({ URL(fileURLWithPath: $0).appendingPathComponent("ref/node_modules").path }),
            FileManager.default.fileExists(atPath: modules + "/udx-native")
        {
            for (mode, name) in [("", "udx.reference_raw"), ("--secret", "udx.reference_encrypted")] {
                let result = try referenceTransfer(modules: modules, bytes: total, secret: !mode.isEmpty)
                report.figure(name, Double(total) / result.seconds / 1e6, "MB/s", parameters)
                report.figure(name + "_cpu", result.cpu / Double(total) * 1e9, "ms/MB", parameters)
            }
        } else {
            print("udx.reference skipped: no Node reference tree (pass --interop DIR, see ../shared/interop/README.md)")
        }

        // Memory per open stream: connected, idle.
        let perStream = try await memoryPerStream(count: streams, loop: loop)
        report.figure("udx.memory_per_stream", perStream, "KiB", ["streams": "\(streams)"])
        try await group.shutdownGracefully()
    }

    /// Wall seconds and process CPU seconds (user + system, all threads) of `body`.
    static func cpuMeasured(_ body: () async throws -> Void) async throws -> (Double, Double) {
        let before = try IRCBenchmarks.cpuSeconds(pid: getpid())
        let wall = try await measureAsync(body)
        return (wall, try IRCBenchmarks.cpuSeconds(pid: getpid()) - before)
    }

    final class Progress: @unchecked Sendable {
        var received = 0
        var sent = 0
        var sender: UDXStream?
    }

    static func rawTransfer(total: Int, loop: any EventLoop, offload: Bool, report: BenchmarkReport) async throws {
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0, offload: offload).get()
        let socketB = try await nodeB.bind(host: "127.0.0.1", port: 0, offload: offload).get()
        let done = loop.makePromise(of: Void.self)
        let progress = Progress()
        // One buffer written again and again, as the reference writes one Buffer (the stream keeps slices of it).
        let chunk = ByteBuffer(repeating: 0xab, count: 65536)
        try await loop.submit {
            let a = try nodeA.makeStream(id: 1)
            let b = try nodeB.makeStream(id: 2)
            progress.sender = a
            try b.connect(socket: socketB, remoteID: 1, address: socketA.localAddress!)
            try a.connect(socket: socketA, remoteID: 2, address: socketB.localAddress!)
            b.onData = { bytes in
                progress.received += bytes.readableBytes
                if progress.received >= total { done.succeed(()) }
            }
            func pump() {
                while progress.sent < total {
                    do {
                        try a.write(chunk)
                        progress.sent += chunk.readableBytes
                    } catch {
                        return
                    }
                }
            }
            a.onWritable = pump
            pump()
        }.get()
        try await done.futureResult.get()
        let retransmissions = try await loop.submit { progress.sender?.counters.retransmissions ?? 0 }.get()
        report.figure(
            offload ? "udx.raw_retransmissions" : "udx.raw_retransmissions_no_offload", Double(retransmissions),
            "packets", ["bytes": "\(total)"])
        try await loop.flatSubmit { nodeA.close().and(nodeB.close()).map { _ in } }.get()
    }

    static func encryptedOverUDX(total: Int, loop: any EventLoop, offload: Bool) async throws {
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0, offload: offload).get()
        let socketB = try await nodeB.bind(host: "127.0.0.1", port: 0, offload: offload).get()
        let (outgoing, incoming) = try await encryptedPair(
            socketA, towardB: socketB.localAddress!, socketB, towardA: socketA.localAddress!)
        try await bulk(total: total, from: outgoing, to: incoming)
        outgoing.disconnect()
        try await loop.flatSubmit { nodeA.close().and(nodeB.close()).map { _ in } }.get()
    }

    /// secret-stream + protomux over a UDX stream from `socketA`'s node (id 1, sending towards `towardB`) to
    /// `socketB`'s (id 2, towards `towardA`): the outgoing (initiator) and incoming connection, once both finished.
    static func encryptedPair(
        _ socketA: UDXSocket, towardB: SocketAddress, _ socketB: UDXSocket, towardA: SocketAddress
    ) async throws -> (outgoing: SwarmConnection, incoming: SwarmConnection) {
        let loop = socketA.node.eventLoop
        let keysA = Ed25519.randomKeyPair(), keysB = Ed25519.randomKeyPair()
        return try await loop.flatSubmit { () -> EventLoopFuture<(SwarmConnection, SwarmConnection)> in
            do {
                let a = try socketA.node.makeStream(id: 1)
                let b = try socketB.node.makeStream(id: 2)
                try b.connect(socket: socketB, remoteID: 1, address: towardA)
                try a.connect(socket: socketA, remoteID: 2, address: towardB)
                let responder = SwarmConnection.establish(
                    over: b, session: try SecretStreamSession(isInitiator: false, staticKeyPair: keysB), label: "A")
                let initiator = SwarmConnection.establish(
                    over: a, session: try SecretStreamSession(isInitiator: true, staticKeyPair: keysA), label: "B")
                return initiator.and(responder)
            } catch {
                return loop.makeFailedFuture(error)
            }
        }.get()
    }

    static func encryptedOverTCP(total: Int, group: any EventLoopGroup) async throws {
        let pair = try await tcpPair(group: group)
        try await bulk(total: total, from: pair.outgoing, to: pair.incoming)
        pair.outgoing.disconnect()
        try await pair.listener.close()
    }

    /// Our secret-stream + protomux over TCP: a listener on `listenOn`, the connection dialled to it at `dial` (the
    /// same address, or the listener's seen through a delay line) and the one it accepted. `tcpCongestionControl` as
    /// `SwarmTransport` takes it.
    static func tcpPair(
        group: any EventLoopGroup, listenOn: String = "127.0.0.1", dial: String = "127.0.0.1",
        idleTimeout: TimeAmount? = .seconds(20), tcpCongestionControl: String? = nil
    ) async throws -> (outgoing: SwarmConnection, incoming: SwarmConnection, listener: any Channel) {
        let serverSide = SwarmTransport(
            keyPair: Ed25519.randomKeyPair(), idleTimeout: idleTimeout, group: group,
            tcpCongestionControl: tcpCongestionControl)
        let clientSide = SwarmTransport(
            keyPair: Ed25519.randomKeyPair(), idleTimeout: idleTimeout, group: group,
            tcpCongestionControl: tcpCongestionControl)
        let accepted = group.next().makePromise(of: SwarmConnection.self)
        let (listener, port) = try await serverSide.listen(host: listenOn, port: 0) { accepted.succeed($0) }
        let outgoing = try await clientSide.connect(host: dial, port: port)
        return (outgoing, try await accepted.futureResult.get(), listener)
    }

    /// 64 KiB protomux messages from one connection to the other, paced by `writable()`.
    static func bulk(total: Int, from outgoing: SwarmConnection, to incoming: SwarmConnection) async throws {
        let chunk = [UInt8](repeating: 0xab, count: 65536)
        outgoing.open(protocol: "bench", id: [1], handshake: [])
        incoming.open(protocol: "bench", id: [1], handshake: [])
        let counting = Task {
            var received = 0
            for await event in incoming.events {
                if case .message(_, _, _, let message) = event {
                    received += message.count
                    if received >= total { return }
                }
            }
        }
        var sent = 0
        while sent < total {
            await outgoing.writable()
            outgoing.send(protocol: "bench", id: [1], type: 0, message: chunk)
            sent += chunk.count
        }
        await counting.value
    }

    struct ReferenceResult: Decodable {
        let seconds: Double
        let cpuUser: Double
        let cpuSystem: Double
        var cpu: Double { cpuUser + cpuSystem }
    }

    static func referenceTransfer(modules: String, bytes: Int, secret: Bool) throws -> ReferenceResult {
        let (data, status) = try NodeScript.run(
            "udx-bench.js", arguments: ["--bytes", "\(bytes)"] + (secret ? ["--secret"] : []), modules: modules)
        guard status == 0 else { throw IRCBenchmarks.Failure(description: "udx-bench.js exited with \(status)") }
        return try JSONDecoder().decode(ReferenceResult.self, from: data)
    }

    static func memoryPerStream(count: Int, loop: any EventLoop) async throws -> Double {
        let node = UDXNode(eventLoop: loop)
        let socket = try await node.bind(host: "127.0.0.1", port: 0).get()
        let before = try IRCBenchmarks.residentKiB(pid: getpid())
        try await loop.submit {
            for id in 1...UInt32(count) {
                let stream = try node.makeStream(id: id)
                try stream.connect(socket: socket, remoteID: id, address: socket.localAddress!)
            }
        }.get()
        let after = try IRCBenchmarks.residentKiB(pid: getpid())
        try await loop.flatSubmit { node.close() }.get()
        return Double(after - before) / Double(count)
    }
}
