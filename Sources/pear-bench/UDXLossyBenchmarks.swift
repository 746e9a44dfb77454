import Foundation
import NIOCore
import NIOPosix
import NetworkLab
import SwarmEngine

/// Issue 15's lossy-path figures: goodput of secret-stream + protomux over UDX and over TCP with CUBIC, in a network
/// namespace of our own where iptables drops 1 % or 5 % of all packets at random. Each pair is measured twice: on
/// the namespace's loopback (loss only), and through our packet-level delay line (`TunnelDelayLine`, a TUN device
/// standing in for netem, which this kernel lacks) that holds every packet, TCP and UDP alike, 10 ms each way.
/// Needs root, `ip` and `iptables` (and /dev/net/tun for the delayed pair).
enum UDXLossyBenchmarks {
    static func run(megabytes: Int, report: BenchmarkReport) async throws {
        if let reason = NetworkNamespace.unavailable {
            print("udx-lossy skipped: network namespaces are unavailable: \(reason)")
            return
        }
        let total = megabytes * 1024 * 1024
        for loss in [1.0, 5.0] {
            let namespace = try NetworkNamespace(lossPercent: loss)
            var line: TunnelDelayLine?
            do {
                var parameters = [
                    "bytes": "\(total)", "loss": "\(Int(loss))%", "threads": "1", "mtu": "1500",
                    "offload": namespace.offloadsDisabled ? "off" : "on (no ethtool: TCP sees 64 KiB packets)",
                ]
                let udx = try await goodputOverUDX(total: total, namespace: namespace, path: .loopback)
                report.figure("udx_lossy.udx", udx, "MB/s", parameters)
                let tcp = try await goodputOverTCP(total: total, namespace: namespace, path: .loopback)
                report.figure("udx_lossy.tcp_cubic", tcp, "MB/s", parameters)
                report.figure("udx_lossy.udx_vs_tcp", udx / tcp * 100, "%", parameters)

                // A 20 ms round trip makes loss recovery slow (TCP at 5 % manages a few hundred KB/s): a smaller
                // transfer keeps the run short.
                let delayedTotal = max(1 << 20, total / (loss >= 5 ? 16 : 4))
                line = try namespace.delayLine(delay: .milliseconds(10))
                parameters["delay"] = "10ms each way (TUN delay line)"
                parameters["bytes"] = "\(delayedTotal)"
                parameters["offload"] = "none on the TUN device"
                let udxDelayed = try await goodputOverUDX(total: delayedTotal, namespace: namespace, path: .delayLine)
                report.figure("udx_lossy.udx_delayed", udxDelayed, "MB/s", parameters)
                let tcpDelayed = try await goodputOverTCP(total: delayedTotal, namespace: namespace, path: .delayLine)
                report.figure("udx_lossy.tcp_cubic_delayed", tcpDelayed, "MB/s", parameters)
                report.figure("udx_lossy.udx_vs_tcp_delayed", udxDelayed / tcpDelayed * 100, "%", parameters)
                if let line { print("udx_lossy.delay_line forwarded=\(line.forwarded) dropped=\(line.dropped)") }
            } catch {
                await line?.stop()
                await namespace.remove()
                throw error
            }
            await line?.stop()
            await namespace.remove()
        }
    }

    /// Where the two ends sit: both on the namespace's loopback, or on the two ends of its delay line.
    enum Path {
        case loopback, delayLine

        /// The address end `index` (1 or 2) binds, and the one the other end reaches it at.
        func bind(_ index: Int) -> String { self == .loopback ? "127.0.0.1" : TunnelDelayLine.endAddress(index) }
        func reach(_ index: Int) -> String {
            self == .loopback ? "127.0.0.1" : TunnelDelayLine.addressThroughLine(index)
        }
    }

    static func goodputOverUDX(total: Int, namespace: NetworkNamespace, path: Path) async throws -> Double {
        let loop = namespace.loop
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let socketA = try await loop.flatSubmit { nodeA.bind(host: path.bind(1), port: 0) }.get()
        let socketB = try await loop.flatSubmit { nodeB.bind(host: path.bind(2), port: 0) }.get()
        let (outgoing, incoming) = try await UDXBenchmarks.encryptedPair(
            socketA, towardB: try SocketAddress(ipAddress: path.reach(2), port: socketB.localAddress!.port!),
            socketB, towardA: try SocketAddress(ipAddress: path.reach(1), port: socketA.localAddress!.port!))
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
        return Double(total) / seconds / 1e6
    }

    static func goodputOverTCP(total: Int, namespace: NetworkNamespace, path: Path) async throws -> Double {
        try await namespace.within {
            let (outgoing, incoming, listener) = try await UDXBenchmarks.tcpPair(
                group: namespace.group, listenOn: path.bind(2), dial: path.reach(2), idleTimeout: nil,
                tcpCongestionControl: "cubic")
            let seconds = try await measureAsync {
                try await UDXBenchmarks.bulk(total: total, from: outgoing, to: incoming)
            }
            outgoing.disconnect()
            try await listener.close()
            return Double(total) / seconds / 1e6
        }
    }
}
