import NIOCore
import NetworkLab
import NIOPosix
import SwarmEngine
import Testing

/// UDX streams over a bad path built in a Linux network namespace of the test's own: iptables drops a share of the
/// datagrams at random, and a relay of ours delays each one 10 ms each way (with jitter, which reorders). Every byte
/// still arrives, in order. Needs root, `ip` and `iptables` (CI runs as root); skipped with the reason elsewhere.
@Suite(.serialized) struct UDXLossyPathTests {
    @Test(arguments: [1.0, 5.0])
    func everyByteCrossesALossyDelayedPathInOrder(lossPercent: Double) async throws {
        if let reason = NetworkNamespace.unavailable {
            print("skipped: network namespaces are unavailable: \(reason)")
            return
        }
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace(lossPercent: lossPercent)
        } catch {
            // Root and the tools are there, but this kernel or container does not let us make one.
            print("skipped: could not set up a network namespace: \(error)")
            return
        }
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
}
