import NIOCore
import NIOPosix
import SwarmEngine
import Testing

/// UDX streams over real UDP sockets on 127.0.0.1: bulk transfers both ways, datagrams that are not stream packets,
/// the firewall hook, moving a stream to another socket mid-transfer, relaying, and reset. Every wait is on an event
/// with a deadline.
@Suite(.serialized) struct UDXSocketTests {
    /// What one stream saw, kept on the event loop.
    final class Observed: @unchecked Sendable {
        var received: [UInt8] = []
        var messages: [[UInt8]] = []
        var ended = false
        let closed: EventLoopPromise<UDXStreamState.CloseReason>
        let endedPromise: EventLoopPromise<Void>

        init(loop: any EventLoop) {
            closed = loop.makePromise()
            endedPromise = loop.makePromise()
        }
    }

    static func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &+ $0 >> 8) }
    }

    /// Fails `promise` after `seconds` unless it completed first.
    static func deadline<T>(_ promise: EventLoopPromise<T>, seconds: Int64, _ what: String) -> EventLoopFuture<T> {
        let loop = promise.futureResult.eventLoop
        let timeout = loop.scheduleTask(in: .seconds(seconds)) {
            promise.fail(TimedOut(what: what))
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        return promise.futureResult
    }

    /// Stream 1 on `socketA`'s node and stream 2 on `socketB`'s, connected to each other (each sending towards the
    /// address given, the other socket's unless a relay stands between). On the nodes' loop.
    static func connectedPair(
        _ socketA: UDXSocket, towardB: SocketAddress? = nil, _ socketB: UDXSocket, towardA: SocketAddress? = nil
    ) throws -> (UDXStream, UDXStream) {
        let b = try socketB.node.makeStream(id: 2)
        let a = try socketA.node.makeStream(id: 1)
        // The receiving end first, so that the first packet finds it connected.
        try b.connect(socket: socketB, remoteID: 1, address: towardA ?? socketA.localAddress!)
        try a.connect(socket: socketA, remoteID: 2, address: towardB ?? socketB.localAddress!)
        return (a, b)
    }

    static func close(_ nodes: UDXNode...) {
        for node in nodes { node.eventLoop.execute { _ = node.close() } }
    }

    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    /// Wires a stream's callbacks to `observed`, and writes `data` (then ends) as fast as the stream takes it.
    static func attach(_ stream: UDXStream, _ observed: Observed, sending data: [UInt8], end: Bool = true) {
        stream.onData = { observed.received += $0.readableBytesView }
        stream.onMessage = { observed.messages.append($0) }
        stream.onEnd = {
            observed.ended = true
            observed.endedPromise.succeed(())
        }
        stream.onClose = { observed.closed.succeed($0) }
        var offset = 0
        func pump() {
            while offset < data.count {
                let chunk = Array(data[offset..<min(data.count, offset + 65_536)])
                do {
                    try stream.write(chunk)
                    offset += chunk.count
                } catch {
                    return  // full: onWritable resumes
                }
            }
            if end { try? stream.end() }
        }
        stream.onWritable = { pump() }
        pump()
    }

    @Test func tenMegabytesEachWayOverLoopbackArriveIntactAndBothSidesFinish() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0).get()
        let socketB = try await nodeB.bind(host: "127.0.0.1", port: 0).get()
        let dataA = Self.pattern(10_000_000, seed: 1)
        let dataB = Self.pattern(10_000_000, seed: 2)
        let seenA = Observed(loop: loop)
        let seenB = Observed(loop: loop)
        try await loop.submit {
            let (a, b) = try Self.connectedPair(socketA, socketB)
            Self.attach(a, seenA, sending: dataA)
            Self.attach(b, seenB, sending: dataB)
        }.get()
        let closedA = try await Self.deadline(seenA.closed, seconds: 120, "A to finish").get()
        let closedB = try await Self.deadline(seenB.closed, seconds: 120, "B to finish").get()
        #expect(closedA == .finished && closedB == .finished)
        defer { Self.close(nodeA, nodeB) }
        try await loop.submit {
            #expect(seenB.received.count == dataA.count)
            #expect(seenA.received.count == dataB.count)
            #expect(seenB.received == dataA)
            #expect(seenA.received == dataB)
            #expect(seenA.ended && seenB.ended)
        }.get()
    }

    @Test func datagramsThatAreNotForALiveStreamGoToTheSocketAndAFloodForUnknownStreamsIsDropped() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let node = UDXNode(eventLoop: loop)
        let receiver = try await node.bind(host: "127.0.0.1", port: 0).get()
        let senderNode = UDXNode(eventLoop: loop)
        let sender = try await senderNode.bind(host: "127.0.0.1", port: 0).get()
        defer { Self.close(node, senderNode) }
        let probe = loop.makePromise(of: [UInt8].self)
        try await loop.submit {
            receiver.onMessage = { buffer, _ in
                if buffer.readableBytes == 1 { probe.succeed(Array(buffer.readableBytesView)) }
            }
            _ = try node.makeStream(id: 7)
            // DATA for stream ids that do not exist, garbage, and packets for an unconnected stream (its firewall
            // decides: there is none, so they are dropped). Few enough that the kernel's buffer keeps them all.
            for seq in 0..<40 {
                let packet = UDXPacket(
                    flags: .data, remoteID: UInt32(1000 + seq), receiveWindow: .max, sequence: UInt32(seq),
                    acknowledgement: 0, body: [UInt8](repeating: 0xaa, count: 1000))
                sender.send(ByteBuffer(bytes: packet.encoded()), to: receiver.localAddress!)
            }
            for length in [0, 19, 25, 1500] {
                sender.send(ByteBuffer(bytes: [UInt8](repeating: 0xff, count: length)), to: receiver.localAddress!)
            }
            for seq in 0..<5 {
                let packet = UDXPacket(
                    flags: .data, remoteID: 7, receiveWindow: .max, sequence: UInt32(seq), acknowledgement: 0,
                    body: [1, 2, 3])
                sender.send(ByteBuffer(bytes: packet.encoded()), to: receiver.localAddress!)
            }
        }.get()
        // The one-byte hole-punch probe, after the rest: it reaches the socket's handler.
        try await loop.submit { sender.send(ByteBuffer(bytes: [0]), to: receiver.localAddress!) }.get()
        #expect(try await Self.deadline(probe, seconds: 10, "the probe").get() == [0])
        try await loop.submit {
            #expect(node.streamCount == 1)
            #expect(receiver.counters.firewalled == 5)
            #expect(receiver.counters.datagramsReceived == 40 + 4 + 5 + 1)
        }.get()
    }

    /// Datagrams received in order (touched only on the loop).
    final class Datagrams: @unchecked Sendable {
        var all: [[UInt8]] = []
    }

    /// With segmentation and receive offload (where this kernel has them), datagrams of one size to one address
    /// leave as trains, a handful of writes for 120 datagrams, and arrive as the same datagrams, whole and in order:
    /// a shorter one ends a train, an empty one travels alone. Without offload, one write per datagram, same result.
    @Test(arguments: [true, false])
    func datagramTrainsArriveAsTheDatagramsSentInOrder(offload: Bool) async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let node = UDXNode(eventLoop: loop)
        let receiver = try await node.bind(host: "127.0.0.1", port: 0, offload: offload).get()
        let senderNode = UDXNode(eventLoop: loop)
        let sender = try await senderNode.bind(host: "127.0.0.1", port: 0, offload: offload).get()
        defer { Self.close(node, senderNode) }
        // Runs of full-sized datagrams with short ones among them, as a stream's data and acks go out.
        let sent: [[UInt8]] = (0..<120).map { index in
            let size = index == 60 ? 0 : index % 40 == 39 ? 20 : 1172
            return (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ index &* 7) }
        }
        let everything = loop.makePromise(of: [[UInt8]].self)
        let got = Datagrams()
        try await loop.submit {
            receiver.onMessage = { buffer, _ in
                got.all.append(Array(buffer.readableBytesView))
                if got.all.count == sent.count { everything.succeed(got.all) }
            }
            for datagram in sent { sender.send(ByteBuffer(bytes: datagram), to: receiver.localAddress!) }
        }.get()
        #expect(try await Self.deadline(everything, seconds: 10, "all 120 datagrams").get() == sent)
        try await loop.submit {
            #expect(sender.counters.datagramsSent == 120 && receiver.counters.datagramsReceived == 120)
            if offload && System.supportsUDPSegmentationOffload {
                #expect(sender.counters.writes <= 6)
            } else {
                #expect(sender.counters.writes == 120)
            }
        }.get()
    }

    /// Streams made on the loop, for later steps of a test (touched only on the loop).
    final class Streams: @unchecked Sendable {
        var all: [String: UDXStream] = [:]
        subscript(name: String) -> UDXStream { all[name]! }
    }

    /// hyperdht's way: the server's stream is not connected; its firewall sees the first packet, and connects the
    /// stream to the socket and address it came from. Then a reset from one side closes the other with `.reset`.
    @Test func theFirewallConnectsAStreamToItsFirstPacketsSenderAndDestroyResetsThePeer() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        defer { Self.close(nodeA, nodeB) }
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0).get()
        let socketB = try await nodeB.bind(host: "127.0.0.1", port: 0).get()
        let seenA = Observed(loop: loop)
        let seenB = Observed(loop: loop)
        let streams = Streams()
        let firstBytes = loop.makePromise(of: Void.self)
        let asked = loop.makePromise(of: Int.self)
        try await loop.submit {
            let b = try nodeB.makeStream(id: 20)
            b.firewall = { socket, address in
                asked.succeed(address.port ?? 0)
                do {
                    try b.connect(socket: socket, remoteID: 10, address: address)
                    return false
                } catch {
                    return true
                }
            }
            Self.attach(b, seenB, sending: [], end: false)
            b.onData = {
                seenB.received += $0.readableBytesView
                if seenB.received.count == 3000 { firstBytes.succeed(()) }
            }
            let a = try nodeA.makeStream(id: 10)
            try a.connect(socket: socketA, remoteID: 20, address: socketB.localAddress!)
            Self.attach(a, seenA, sending: Self.pattern(3000, seed: 3), end: false)
            streams.all = ["a": a, "b": b]
        }.get()
        #expect(try await Self.deadline(asked, seconds: 10, "the firewall").get() == socketA.port)
        try await Self.deadline(firstBytes, seconds: 10, "the bytes").get()
        try await loop.submit {
            #expect(seenB.received == Self.pattern(3000, seed: 3))
            #expect(streams["b"].isConnected)
            streams["a"].destroy()
        }.get()
        #expect(try await Self.deadline(seenA.closed, seconds: 10, "A to close").get() == .destroyed)
        #expect(try await Self.deadline(seenB.closed, seconds: 10, "B to hear the reset").get() == .reset)
        try await loop.submit {
            #expect(nodeA.streamCount == 0 && nodeB.streamCount == 0)
        }.get()
    }

    /// The peer's first packets can come before a stream knows where its peer is (hyperdht: the server's first bytes
    /// overtake the relayed answer that names it): the firewall lets them in, the stream keeps them, and once it
    /// connects, and later gets a reader, every byte and the end arrive in order, without the peer resending.
    @Test func packetsBeforeConnectAndBeforeAReaderAreKept() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        defer { Self.close(nodeA, nodeB) }
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0).get()
        let socketB = try await nodeB.bind(host: "127.0.0.1", port: 0).get()
        let seenA = Observed(loop: loop)
        let seenB = Observed(loop: loop)
        let streams = Streams()
        let arrived = loop.makePromise(of: Void.self)
        try await loop.submit {
            let b = try nodeB.makeStream(id: 20)
            // Accepts, but does not connect: the answer saying where the peer is has not come yet.
            b.firewall = { _, _ in
                arrived.succeed(())
                return false
            }
            let a = try nodeA.makeStream(id: 10)
            try a.connect(socket: socketA, remoteID: 20, address: socketB.localAddress!)
            Self.attach(a, seenA, sending: Self.pattern(2000, seed: 4), end: true)
            streams.all = ["a": a, "b": b]
        }.get()
        try await Self.deadline(arrived, seconds: 10, "the first packets").get()
        // A may time out and resend before B connects (a retransmission timeout is one second, which a loaded test
        // machine can take to get here): what counts is that nothing needs resending once B connects.
        let resentBeforeConnect = try await loop.submit {
            let b = streams["b"]
            b.firewall = nil
            try b.connect(socket: socketB, remoteID: 10, address: socketA.localAddress!)
            return streams["a"].counters.retransmissions
        }.get()
        // The reader comes a moment later still.
        try await loop.submit { Self.attach(streams["b"], seenB, sending: [], end: true) }.get()
        try await Self.deadline(seenB.endedPromise, seconds: 10, "B to read to the end").get()
        try await loop.submit {
            #expect(seenB.received == Self.pattern(2000, seed: 4))
            #expect(streams["a"].counters.retransmissions == resentBeforeConnect)
        }.get()
    }

    /// A stream moves to another socket of its peer halfway through a transfer (as after a hole punch): every byte
    /// still arrives, and the later packets come in on the new socket.
    @Test func changeRemoteMidTransferLosesNothing() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let nodeA = UDXNode(eventLoop: loop)
        let nodeB = UDXNode(eventLoop: loop)
        defer { Self.close(nodeA, nodeB) }
        let socketA = try await nodeA.bind(host: "127.0.0.1", port: 0).get()
        let socketB1 = try await nodeB.bind(host: "127.0.0.1", port: 0).get()
        let socketB2 = try await nodeB.bind(host: "127.0.0.1", port: 0).get()
        let data = Self.pattern(2_000_000, seed: 4)
        let seenA = Observed(loop: loop)
        let seenB = Observed(loop: loop)
        let halfway = loop.makePromise(of: Void.self)
        let changed = loop.makePromise(of: Void.self)
        try await loop.submit {
            let (a, b) = try Self.connectedPair(socketA, socketB1)
            Self.attach(a, seenA, sending: data)
            Self.attach(b, seenB, sending: [])
            a.onRemoteChanged = { changed.succeed(()) }
            var moved = false
            b.onData = {
                seenB.received += $0.readableBytesView
                if !moved, seenB.received.count >= data.count / 2 {
                    moved = true
                    // A learns B's other address (in hyperdht, from the hole punch) and switches to it.
                    try? a.changeRemote(socket: socketA, remoteID: 2, address: socketB2.localAddress!)
                    halfway.succeed(())
                }
            }
        }.get()
        try await Self.deadline(halfway, seconds: 30, "halfway").get()
        // What was in flight on the old path gets acknowledged, and the change is reported complete.
        try await Self.deadline(changed, seconds: 30, "the change to complete").get()
        #expect(try await Self.deadline(seenB.closed, seconds: 60, "B to finish").get() == .finished)
        #expect(try await Self.deadline(seenA.closed, seconds: 60, "A to finish").get() == .finished)
        try await loop.submit {
            #expect(seenB.received == data)
            #expect(socketB2.counters.datagramsReceived > 100)
        }.get()
    }

    /// A relay node pairs two streams and forwards each one's packets to the other's peer, without reading them;
    /// the two ends run an ordinary stream to the relay's address and stream id.
    @Test func aRelayForwardsStreamsBothWaysWithoutReadingThem() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let nodes = (0..<3).map { _ in UDXNode(eventLoop: loop) }
        defer { Self.close(nodes[0], nodes[1], nodes[2]) }
        let socketA = try await nodes[0].bind(host: "127.0.0.1", port: 0).get()
        let socketR = try await nodes[1].bind(host: "127.0.0.1", port: 0).get()
        let socketB = try await nodes[2].bind(host: "127.0.0.1", port: 0).get()
        let dataA = Self.pattern(1_000_000, seed: 5)
        let dataB = Self.pattern(600_000, seed: 6)
        let seenA = Observed(loop: loop)
        let seenB = Observed(loop: loop)
        let streams = Streams()
        try await loop.submit {
            // A (id 1) ⇄ relay stream 10 … relay stream 11 ⇄ B (id 2).
            let toA = try nodes[1].makeStream(id: 10)
            let toB = try nodes[1].makeStream(id: 11)
            try toA.connect(socket: socketR, remoteID: 1, address: socketA.localAddress!)
            try toB.connect(socket: socketR, remoteID: 2, address: socketB.localAddress!)
            toA.relay(to: toB)
            toB.relay(to: toA)
            let a = try nodes[0].makeStream(id: 1)
            let b = try nodes[2].makeStream(id: 2)
            try a.connect(socket: socketA, remoteID: 10, address: socketR.localAddress!)
            try b.connect(socket: socketB, remoteID: 11, address: socketR.localAddress!)
            Self.attach(a, seenA, sending: dataA)
            Self.attach(b, seenB, sending: dataB)
            streams.all = ["toA": toA, "toB": toB]
        }.get()
        #expect(try await Self.deadline(seenA.closed, seconds: 60, "A to finish").get() == .finished)
        #expect(try await Self.deadline(seenB.closed, seconds: 60, "B to finish").get() == .finished)
        try await loop.submit {
            #expect(seenB.received == dataA)
            #expect(seenA.received == dataB)
            // The relay acked nothing and delivered nothing itself.
            #expect(streams["toA"].counters.packetsSent == 0 && streams["toB"].counters.packetsSent == 0)
            #expect(socketR.counters.datagramsReceived > 1000)
        }.get()
    }
}
