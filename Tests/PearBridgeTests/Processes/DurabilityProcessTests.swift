import Foundation
import NIOPosix
import Synchronization
import TestVectors
import Testing

/// A line the user saw as sent is never lost: real `pearircd` processes killed with SIGKILL while a client sends.
@Suite(.serialized) struct DurabilityProcessTests {
    /// The number of a test line `n<number>` in a PRIVMSG to `channel` (as echoed or relayed), if it is one.
    static func lineNumber(_ line: String, channel: String) -> Int? {
        guard let range = line.range(of: "PRIVMSG \(channel) ") else { return nil }
        var text = line[range.upperBound...]
        if text.hasPrefix(":") { text = text.dropFirst() }
        guard text.hasPrefix("n") else { return nil }
        return Int(text.dropFirst())
    }

    /// Waits until `client` has relayed every number in `expected`; returns the numbers in the order they came.
    static func collect(_ expected: Set<Int>, from client: LineClient, channel: String) async throws -> [Int] {
        var seen: [Int] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while !expected.isSubset(of: Set(seen)) {
            guard ContinuousClock.now < deadline else {
                Issue.record("missing lines: \(expected.subtracting(seen).sorted())")
                break
            }
            let lines = client.takeLines()
            if lines.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            seen += lines.compactMap { lineNumber($0, channel: channel) }
        }
        return seen
    }

    /// Twenty times: a client with echo-message sends a burst of numbered lines, the gateway is killed with SIGKILL
    /// after a random number of echoes, and started again. Every echoed line is then served by a peer that was
    /// connected throughout and by a new gateway that learns the room from the killed one's store only, in the order
    /// it was sent.
    @Test func noEchoedLineIsLostWhenTheGatewayIsKilled() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = "#durable"
        let (b, bIRC, bPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"))
        let bob = try await LineClient.connect(port: bIRC, group: group)
        try await ThreeGatewayProcessTests.register(bob, "bob", channel: channel)

        var echoed = Set<Int>()
        var generator = SystemRandomNumberGenerator()
        let burst = 40
        for round in 0..<20 {
            let (a, aIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"), peers: [bPeer])
            let alice = try await LineClient.connect(port: aIRC, group: group)
            try await alice.send("CAP REQ :echo-message")
            try await alice.send("CAP END")
            try await ThreeGatewayProcessTests.register(alice, "alice", channel: channel)
            _ = alice.takeLines()
            let first = round * burst
            // The whole burst goes out at once; the kill comes after a random number of its echoes.
            let lines = (first..<first + burst).map { "PRIVMSG \(channel) :n\($0)" }.joined(separator: "\r\n")
            try await alice.send(lines)
            let killAfter = Int.random(in: 1...burst / 2, using: &generator)
            // Echoes of this round's lines only: the history replayed on join has lower numbers.
            let thisRound = Mutex<[Int]>([])
            _ = try await alice.waitFor("\(killAfter) echoes", timeout: .seconds(30)) { line in
                guard let number = Self.lineNumber(line, channel: channel), number >= first else { return false }
                return thisRound.withLock { $0.append(number); return $0.count >= killAfter }
            }
            a.send(signal: SIGKILL)
            #expect(await a.exitStatus(timeout: .seconds(10)) != nil, "the gateway exited")
            try await alice.waitUntilClosed(timeout: .seconds(10))
            // Every echo the client got, those read after the kill included.
            let late = alice.takeLines().compactMap { Self.lineNumber($0, channel: channel) }.filter { $0 >= first }
            echoed.formUnion(thisRound.withLock { $0 })
            echoed.formUnion(late)
            await alice.close()
            await a.stop()
        }

        // Started once more: the peer that stayed up gets what it had not received before the last kills, and
        // shows every echoed line, in the order sent.
        let (a, _, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"), peers: [bPeer])
        let onB = try await Self.collect(echoed, from: bob, channel: channel).filter(echoed.contains)
        #expect(onB == onB.sorted(), "B shows the lines in the order they were sent")
        await bob.close()
        await b.stop()

        // The killed gateway's store has them all: a new gateway that meets only it receives every one, in order.
        let (c, cIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), peers: [aPeer])
        let carol = try await LineClient.connect(port: cIRC, group: group)
        try await ThreeGatewayProcessTests.register(carol, "carol", channel: channel)
        let onC = try await Self.collect(echoed, from: carol, channel: channel).filter(echoed.contains)
        #expect(onC == onC.sorted(), "C shows the lines in the order they were sent")
        #expect(Set(onC) == echoed)
        await carol.close()
        for process in [a, c] { await process.stop() }
        try await group.shutdownGracefully()
    }
}
