import NIOCore
import NetworkLab
import NIOPosix
import Sodium
import SwarmEngine
import Testing

/// UDX streams over a bad path built in a Linux network namespace of the test's own: iptables drops a share of the
/// datagrams at random, and a relay of ours delays each one 10 ms each way (with jitter, which reorders). Every byte
/// still arrives, in order. Needs root, `ip` and `iptables` (CI runs as root); skipped with the reason elsewhere.
@Suite(.serialized) struct UDXLossyPathTests {
    @Test(arguments: [1.0, 5.0])
    func everyByteCrossesALossyDelayedPathInOrder(lossPercent: Double) async throws {
        guard let namespace = Self.namespace(lossPercent: lossPercent) else { return }
        let loop = namespace.loop
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let (relay, relayChannel) = try await UDPDelayRelay.start(
            on: loop, delay: .milliseconds(10), jitter: .milliseconds(2))
        let socketA = try await loop.flatSubmit { nodeA.bind(host: "127.0.0.1", port: 0) }.get()
        let socketB = try await loop.flatSubmit { nodeB.bind(host: "127.0.0.1", port: 0) }.get()
        let dataA = UDXSocketTests.pattern(4_000_000, seed: 7)
        let dataB = UDXSocketTests.pattern(1_000_000, seed: 8)
        let seenA = UDXSocketTests.Observed(loop: loop)
        let seenB = UDXSocketTests.Observed(loop: loop)
        let streams = UDXSocketTests.Streams()
        try await loop.submit {
            relay.ends = (socketA.localAddress!, socketB.localAddress!)
            let (a, b) = try UDXSocketTests.connectedPair(
                socketA, towardB: relayChannel.localAddress!, socketB, towardA: relayChannel.localAddress!)
            UDXSocketTests.attach(a, seenA, sending: dataA)
            UDXSocketTests.attach(b, seenB, sending: dataB)
            streams.all = ["a": a, "b": b]
        }.get()
        let closedA = try? await UDXSocketTests.deadline(seenA.closed, seconds: 120, "A to finish").get()
        let closedB = try? await UDXSocketTests.deadline(seenB.closed, seconds: 120, "B to finish").get()
        try await loop.submit {
            #expect(closedA == .finished && closedB == .finished)
            #expect(seenB.received == dataA)
            #expect(seenA.received == dataB)
            // The path did lose packets, and the streams repaired them.
            #expect(streams["a"].counters.retransmissions > 0)
            #expect(relay.forwarded > 0)
            _ = nodeA.close()
            _ = nodeB.close()
            relayChannel.close(promise: nil)
        }.get()
        await namespace.remove()
    }

    /// The packet-level delay line (a TUN device of ours, since there is no netem) holds every packet 10 ms each way
    /// for TCP and UDP alike, on a path that also drops 1 %: a UDX stream and a secret-stream connection over TCP
    /// (what `pear-bench udx-lossy` compares) each carry 1 MB intact, and the UDX stream measured a round trip of at
    /// least the 20 ms the line adds (it never delivers early).
    @Test func tcpAndUDXCrossTheDelayLineIntact() async throws {
        guard let namespace = Self.namespace(lossPercent: 1) else { return }
        let line: TunnelDelayLine
        do {
            line = try namespace.delayLine(delay: .milliseconds(10))
        } catch {
            await namespace.remove()
            print("skipped: could not make a TUN device in the namespace: \(error)")
            return
        }
        let loop = namespace.loop
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let socketA = try await loop.flatSubmit { nodeA.bind(host: TunnelDelayLine.endAddress(1), port: 0) }.get()
        let socketB = try await loop.flatSubmit { nodeB.bind(host: TunnelDelayLine.endAddress(2), port: 0) }.get()
        let towardB = try SocketAddress(ipAddress: TunnelDelayLine.addressThroughLine(2), port: socketB.localAddress!.port!)
        let towardA = try SocketAddress(ipAddress: TunnelDelayLine.addressThroughLine(1), port: socketA.localAddress!.port!)
        let data = UDXSocketTests.pattern(1_000_000, seed: 11)
        let seenA = UDXSocketTests.Observed(loop: loop)
        let seenB = UDXSocketTests.Observed(loop: loop)
        let streams = UDXSocketTests.Streams()
        try await loop.submit {
            let (a, b) = try UDXSocketTests.connectedPair(socketA, towardB: towardB, socketB, towardA: towardA)
            UDXSocketTests.attach(a, seenA, sending: data)
            UDXSocketTests.attach(b, seenB, sending: [])
            streams.all = ["a": a, "b": b]
        }.get()
        let closedB = try? await UDXSocketTests.deadline(seenB.closed, seconds: 60, "B to finish").get()
        try await loop.submit {
            #expect(closedB == .finished)
            #expect(seenB.received == data)
            #expect(streams["a"].smoothedRTT >= 20)
            _ = nodeA.close()
            _ = nodeB.close()
        }.get()

        // The same through TCP, secret-stream and protomux on top, as the benchmark runs it.
        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair(), group: namespace.group)
        let client = SwarmTransport(keyPair: Ed25519.randomKeyPair(), group: namespace.group)
        let (listener, outgoing, incoming) = try await namespace.within {
            let accepted = loop.makePromise(of: SwarmConnection.self)
            let (listener, port) = try await server.listen(host: TunnelDelayLine.endAddress(2), port: 0) {
                accepted.succeed($0)
            }
            do {
                let outgoing = try await client.connect(host: TunnelDelayLine.addressThroughLine(2), port: port)
                return (listener, outgoing, try await accepted.futureResult.get())
            } catch {
                accepted.fail(error)
                throw error
            }
        }
        outgoing.open(protocol: "bulk", id: [], handshake: [])
        incoming.open(protocol: "bulk", id: [], handshake: [])
        let receiving = Task {
            var received: [UInt8] = []
            for await event in incoming.events {
                if case .message(_, _, _, let message) = event { received += message }
                if received.count >= data.count { break }
            }
            return received
        }
        for start in stride(from: 0, to: data.count, by: 65536) {
            await outgoing.writable()
            outgoing.send(protocol: "bulk", id: [], type: 0, message: Array(data[start..<min(start + 65536, data.count)]))
        }
        #expect(await receiving.value == data)
        #expect(line.forwarded > 0)
        outgoing.disconnect()
        try await listener.close()
        try await server.shutdown()
        try await client.shutdown()
        await line.stop()
        await namespace.remove()
    }

    /// A path whose MTU (1,100 here) is below one full UDX datagram: the kernel refuses a segmented write with
    /// EMSGSIZE (plain datagrams it fragments), so the socket turns offload off, resends that train one datagram at a
    /// time, and a 1 MB stream still arrives whole.
    @Test func aPathThatRefusesSegmentedWritesGetsSingleDatagrams() async throws {
        guard System.supportsUDPSegmentationOffload else {
            print("skipped: this kernel has no UDP segmentation offload")
            return
        }
        guard let namespace = Self.namespace(lossPercent: 0, mtu: 1100) else { return }
        let loop = namespace.loop
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let socketA = try await loop.flatSubmit { nodeA.bind(host: "127.0.0.1", port: 0) }.get()
        let socketB = try await loop.flatSubmit { nodeB.bind(host: "127.0.0.1", port: 0) }.get()
        #expect(try await loop.submit { socketA.segmentationOffload }.get())
        let data = UDXSocketTests.pattern(1_000_000, seed: 21)
        let seenB = UDXSocketTests.Observed(loop: loop)
        let seenA = UDXSocketTests.Observed(loop: loop)
        try await loop.submit {
            let (a, b) = try UDXSocketTests.connectedPair(socketA, socketB)
            UDXSocketTests.attach(a, seenA, sending: data)
            UDXSocketTests.attach(b, seenB, sending: [])
        }.get()
        let closed = try? await UDXSocketTests.deadline(seenB.closed, seconds: 60, "B to finish").get()
        try await loop.submit {
            #expect(closed == .finished)
            #expect(seenB.received == data)
            #expect(!socketA.segmentationOffload)
            _ = nodeA.close()
            _ = nodeB.close()
        }.get()
        await namespace.remove()
    }

    /// A namespace dropping `lossPercent` of its packets, or nil (with the reason printed) where none can be made.
    static func namespace(lossPercent: Double, mtu: Int = 1500) -> NetworkNamespace? {
        if let reason = NetworkNamespace.unavailable {
            print("skipped: network namespaces are unavailable: \(reason)")
            return nil
        }
        do {
            return try NetworkNamespace(lossPercent: lossPercent, mtu: mtu)
        } catch {
            // Root and the tools are there, but this kernel or container does not let us make one.
            print("skipped: could not set up a network namespace: \(error)")
            return nil
        }
    }
}
