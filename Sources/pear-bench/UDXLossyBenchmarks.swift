import Foundation
import LoopExecutors
import NIOCore
import NIOPosix
import NetworkLab
import SwarmEngine

/// Issue 15's lossy-path figures: goodput of secret-stream + protomux over UDX and over TCP with CUBIC, in a network
/// namespace of our own where iptables drops 1 % or 5 % of all packets at random. UDX is measured twice: on the
/// namespace's loopback as TCP is, and through our UDP relay adding 10 ms each way. (TCP cannot be delayed the same
/// way here: the kernel has no netem, and a user-space TCP proxy would hide the delay from TCP's congestion control.)
/// Needs root, `ip` and `iptables`.
enum UDXLossyBenchmarks {
    static func run(megabytes: Int, report: BenchmarkReport) async throws {
        if let reason = NetworkNamespace.unavailable {
            print("udx-lossy skipped: network namespaces are unavailable: \(reason)")
            return
        }
        let total = megabytes * 1024 * 1024
        for loss in [1.0, 5.0] {
            let namespace = try NetworkNamespace(lossPercent: loss)
            let parameters = [
                "bytes": "\(total)", "loss": "\(Int(loss))%", "threads": "1", "mtu": "1500",
                "offload": namespace.offloadsDisabled ? "off" : "on (no ethtool: TCP sees 64 KiB packets)",
            ]
            do {
                let udx = try await goodputOverUDX(total: total, namespace: namespace, delay: nil)
                report.figure("udx_lossy.udx", udx, "MB/s", parameters)
                let tcp = try await goodputOverTCP(total: total, namespace: namespace)
                report.figure("udx_lossy.tcp_cubic", tcp, "MB/s", parameters)
                report.figure("udx_lossy.udx_vs_tcp", udx / tcp * 100, "%", parameters)
                var delayed = parameters
                delayed["delay"] = "10ms each way"
                let udxDelayed = try await goodputOverUDX(
                    total: total / 4, namespace: namespace, delay: .milliseconds(10))
                delayed["bytes"] = "\(total / 4)"
                report.figure("udx_lossy.udx_delayed", udxDelayed, "MB/s", delayed)
            } catch {
                await namespace.remove()
                throw error
            }
            await namespace.remove()
        }
    }

    static func goodputOverUDX(total: Int, namespace: NetworkNamespace, delay: TimeAmount?) async throws -> Double {
        let loop = namespace.loop
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let socketA = try await loop.flatSubmit { nodeA.bind(host: "127.0.0.1", port: 0) }.get()
        let socketB = try await loop.flatSubmit { nodeB.bind(host: "127.0.0.1", port: 0) }.get()
        var relayChannel: (any Channel)?
        var addressOfB = socketB.localAddress!
        var addressOfA = socketA.localAddress!
        if let delay {
            let (relay, channel) = try await UDPDelayRelay.start(on: loop, delay: delay)
            try await loop.submit { relay.ends = (socketA.localAddress!, socketB.localAddress!) }.get()
            relayChannel = channel
            addressOfB = channel.localAddress!
            addressOfA = channel.localAddress!
        }
        let (outgoing, incoming) = try await UDXBenchmarks.encryptedPair(
            socketA, towardB: addressOfB, socketB, towardA: addressOfA)
        let seconds = try await measureAsync { try await UDXBenchmarks.bulk(total: total, from: outgoing, to: incoming) }
        let sender = try await loop.submit { nodeA.streamCounters(id: 1) }.get()
        if let receiver = try await loop.submit({ nodeB.streamCounters(id: 2) }).get() {
            print("udx_lossy.udx_receiver duplicates=\(receiver.duplicates) windowFull=\(receiver.windowFull) beyondSpan=\(receiver.beyondSpan) received=\(receiver.packetsReceived)")
        }
        if let sender {
            print(
                "udx_lossy.udx_sender retransmissions=\(sender.retransmissions) fastRecoveries=\(sender.fastRecoveries)"
                    + " timeouts=\(sender.retransmissionTimeouts) lossProbes=\(sender.lossProbes) packets=\(sender.packetsSent)")
        }
        outgoing.disconnect()
        try await loop.flatSubmit { nodeA.close().and(nodeB.close()).map { _ in } }.get()
        try await relayChannel?.close()
        return Double(total) / seconds / 1e6
    }

    static func goodputOverTCP(total: Int, namespace: NetworkNamespace) async throws -> Double {
        // The sockets are made on the namespace's loop thread (NIO creates them on the calling thread), so the tasks
        // that bind and dial prefer that loop.
        let executor = EventLoopExecutor(namespace.loop)
        return try await withTaskExecutorPreference(executor) {
            let (outgoing, incoming, listener) = try await UDXBenchmarks.tcpPair(
                group: namespace.group, idleTimeout: nil, tcpCongestionControl: "cubic")
            let seconds = try await measureAsync {
                try await UDXBenchmarks.bulk(total: total, from: outgoing, to: incoming)
            }
            outgoing.disconnect()
            try await listener.close()
            return Double(total) / seconds / 1e6
        }
    }
}
