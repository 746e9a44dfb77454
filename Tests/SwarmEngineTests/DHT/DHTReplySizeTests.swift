import CompactEncoding
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import Testing

@testable import SwarmEngine

/// What a node sends back is bounded by what it is sent, as the reference's is: a LOOKUP for a topic holding twenty
/// records (relay addresses cut to three each, as the reference cuts them) is answered with at most 28 times the
/// request's bytes, the reference's own ratio; a flood of them from one address gets its burst of 200 answers and
/// then no more than the rate adds while it lasts, each within the same bound.
@Suite(.serialized) struct DHTReplySizeTests {
    @Test func lookupRepliesAreBoundedAndAFloodIsRateLimited() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let net = try await DHTTestNet.start(size: 6, on: loop)
        let client = DHTNode(
            udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: [net.bootstrap], ephemeral: true))
        try await loop.flatSubmit { client.start() }.get()
        let topic = BLAKE2b.hash256(Array("pearirc/tests/amplification".utf8))
        let relays = (1...5).map { IPv4Endpoint(address: 0x0a00_0000 + UInt32($0), port: 4000) }
        for _ in 0..<25 {
            _ = try await loop.flatSubmit { client.announce(topic, keyPair: Ed25519.randomKeyPair(), relayAddresses: relays) }.get()
        }

        // A raw socket sends LOOKUPs as an ephemeral client would (no id, no token) and counts what comes back.
        let target = net.nodes[0]
        let received = NIOLockedValueBox<[Int]>([])
        let expected = NIOLockedValueBox<(count: Int, promise: EventLoopPromise<Void>)?>(nil)
        let socket = try await loop.flatSubmit { UDXNode(eventLoop: loop).bind(host: "127.0.0.1", port: 0) }.get()
        let targetAddress = try await loop.submit { target.serverSocket!.localAddress! }.get()
        try await loop.submit {
            socket.onMessage = { buffer, _ in
                let count = received.withLockedValue { $0.append(buffer.readableBytes); return $0.count }
                expected.withLockedValue { waiting in
                    if let (wanted, promise) = waiting, count >= wanted {
                        promise.succeed()
                        waiting = nil
                    }
                }
            }
        }.get()
        func lookup(tid: UInt16) -> [UInt8] {
            DHTMessage.request(
                DHTRequest(tid: tid, to: IPv4Endpoint(host: "127.0.0.1", port: UInt16(targetAddress.port!))!, isInternal: false, command: 3, target: topic)
            ).encoded()
        }
        // Replies arrive on the loop; waiting registers there too, so a promise is completed exactly once.
        func waitFor(_ count: Int) async throws {
            let promise = loop.makePromise(of: Void.self)
            try await loop.submit {
                if received.withLockedValue({ $0.count >= count }) {
                    promise.succeed()
                    return
                }
                expected.withLockedValue { $0 = (count, promise) }
                loop.scheduleTask(in: .seconds(10)) {
                    let mine = expected.withLockedValue { waiting -> Bool in
                        guard let current = waiting, current.promise.futureResult === promise.futureResult else { return false }
                        waiting = nil
                        return true
                    }
                    if mine { promise.fail(DHTNode.Failure.nobodyAnswered) }
                }
            }.get()
            try await promise.futureResult.get()
        }

        let request = lookup(tid: 1)
        try await loop.submit { socket.send(ByteBuffer(bytes: request), to: targetAddress) }.get()
        try await waitFor(1)
        let reply = try #require(received.withLockedValue { $0.first })
        #expect(reply <= 28 * request.count, "\(reply) bytes for a \(request.count)-byte LOOKUP")
        // Twenty peers, each with three relay addresses at most.
        let stored = try await loop.submit { target.storedRecords }.get()
        #expect(stored == 25)
        let peersOnly = 1 + 20 * (32 + 1 + 3 * 6)
        #expect(reply > peersOnly, "the reply carries the twenty records")

        // A flood of 2,000 from the same address: the first 200 or so (the burst) are answered, no more than the
        // rate adds while it lasts.
        let before = try await loop.submit { (target.limiter.answered, target.limiter.dropped) }.get()
        let start = NIODeadline.now()
        try await loop.submit {
            for tid in 2...2001 { socket.send(ByteBuffer(bytes: lookup(tid: UInt16(tid))), to: targetAddress) }
        }.get()
        let after = try await waitUntilSettled(target, total: before.0 + before.1 + 2000, on: loop)
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        // (The node's own upkeep may count a few answers to other nodes in this window.)
        let answered = after.0 - before.0
        #expect(answered <= 200 + Int(elapsed * 100) + 10, "\(answered) answers in \(elapsed) s")
        #expect(after.1 - before.1 >= 2000 - answered)
        #expect(answered >= 200, "the burst is answered")
        try await waitFor(1 + answered - 10)
        let floodReplies = received.withLockedValue { $0.dropFirst() }
        #expect(floodReplies.count <= answered)
        #expect(floodReplies.reduce(0, +) <= 28 * request.count * answered)

        try await loop.flatSubmit { socket.close() }.get()
        try await DHTTestNet.close(net.nodes + [client], on: loop)
        try await group.shutdownGracefully()
    }

    /// Waits on the node's loop until it has decided on `total` requests from anyone (answered or dropped).
    func waitUntilSettled(_ node: DHTNode, total: Int, on loop: any EventLoop) async throws -> (Int, Int) {
        let promise = loop.makePromise(of: (Int, Int).self)
        let poll = loop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { _ in
            let limiter = node.limiter
            if limiter.answered + limiter.dropped >= total { promise.succeed((limiter.answered, limiter.dropped)) }
        }
        let timeout = loop.scheduleTask(in: .seconds(10)) { promise.fail(DHTNode.Failure.nobodyAnswered) }
        defer {
            poll.cancel()
            timeout.cancel()
        }
        return try await promise.futureResult.get()
    }
}
