import Crypto
import Foundation
import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import TestVectors
import Testing

/// Live interop with the real udx-native 1.20.7 (libudx 759bf76) on 127.0.0.1: our streams against
/// `Tests/interop/udx-peer.js` running in Node with the reference tree of `../shared/interop` (assembled beside the
/// repository as `../interop`, or where `PEARIRC_INTEROP` points). Skipped, with the reason, where Node or the tree is
/// absent (CI has neither). `make interop` runs them.
@Suite(.serialized) struct UDXInteropTests {
    static let nodeModules = InteropTree.nodeModules(requiring: ["udx-native"])

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("interop/udx-peer.js").path
    }

    /// One udx-native peer process: its first line (port and stream id), our instructions, its final report.
    final class NodePeer: @unchecked Sendable {
        let process = Process()
        private let input = Pipe()
        private let output = Pipe()
        private let lines = LineReader()

        struct Report: Decodable {
            let received: Int
            let sha256: String
            let error: String?
            let errorCode: String?
            let messages: Int?
            let ms: Double?
            let stats: Stats?
        }

        /// What udx-native's stream counted (the fields it exposes).
        struct Stats: Decodable {
            let retransmits: Int?
            let fastRecoveries: Int?
            let rtoCount: Int?
        }

        /// With `namespace`, Node runs inside that network namespace (`ip netns exec`).
        convenience init(modules: String, id: UInt32, script: String = UDXInteropTests.script, namespace: String? = nil) throws {
            try self.init(modules: modules, arguments: [script, "--id", "\(id)", "--ttl", "60"], namespace: namespace)
        }

        /// Node running `arguments` (the script first).
        init(modules: String, arguments: [String], namespace: String? = nil) throws {
            if let namespace {
                process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
                process.arguments = ["netns", "exec", namespace, "/usr/bin/node"] + arguments
            } else {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/node")
                process.arguments = arguments
            }
            process.environment = ["NODE_PATH": modules, "PATH": "/usr/bin:/bin"]
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            let lines = self.lines
            output.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                // At the end of the pipe the handler would be called again and again.
                if data.isEmpty { handle.readabilityHandler = nil }
                lines.append(data)
            }
            try process.run()
        }

        func first() async throws -> (port: Int, id: UInt32) {
            let line = try await lines.next(within: .seconds(60))
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let port = object?["port"] as? Int, let id = (object?["id"] as? NSNumber)?.uint32Value else {
                throw LineReader.Failure.malformed(line)
            }
            return (port, id)
        }

        /// One JSON line to the script's stdin.
        func command(_ object: [String: Any]) throws {
            let data = try JSONSerialization.data(withJSONObject: object)
            try input.fileHandleForWriting.write(contentsOf: data + Data("\n".utf8))
        }

        func instruct(port: Int, id: UInt32, mode: String, bytes: Int = 0) throws {
            let line = "{\"port\":\(port),\"id\":\(id),\"mode\":\"\(mode)\",\"bytes\":\(bytes)}\n"
            try input.fileHandleForWriting.write(contentsOf: Data(line.utf8))
        }

        func nextObject() async throws -> [String: Any] {
            let line = try await lines.next(within: .seconds(60))
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw LineReader.Failure.malformed(line)
            }
            return object
        }

        func connected() async throws {
            let line = try await lines.next(within: .seconds(60))
            guard line.contains("\"connected\":true") else { throw LineReader.Failure.malformed(line) }
        }

        func report() async throws -> Report {
            let line = try await lines.next(within: .seconds(60))
            return try JSONDecoder().decode(Report.self, from: Data(line.utf8))
        }

        deinit {
            output.fileHandleForReading.readabilityHandler = nil
            if process.isRunning { process.terminate() }
        }
    }

    /// Lines from a pipe, awaited with a deadline.
    final class LineReader: @unchecked Sendable {
        enum Failure: Error { case timedOut, closed, malformed(String) }
        private let lock = NSLock()
        private var buffer = Data()
        private var lines: [String] = []
        private var closed = false
        /// The reader waiting in `next`, with the number of its wait (so that a late timeout cannot end a later wait).
        private var waiter: (wait: Int, continuation: CheckedContinuation<Result<String, Failure>, Never>)?
        private var waits = 0
        /// The last wait whose time ran out (possibly before it began waiting).
        private var expired = 0

        func append(_ data: Data) {
            lock.lock()
            defer { lock.unlock() }
            if data.isEmpty { closed = true }
            buffer += data
            while let newline = buffer.firstIndex(of: 0x0a) {
                lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer = Data(buffer[buffer.index(after: newline)...])
            }
            if let waiter, let result = nextResult() {
                self.waiter = nil
                waiter.continuation.resume(returning: result)
            }
        }

        /// The next line, woken by `append` as it arrives (or failing after `limit`, or at the end of the pipe).
        func next(within limit: Duration) async throws -> String {
            let wait = lock.withLock {
                waits += 1
                return waits
            }
            let timeout = Task { [weak self] in
                try await Task.sleep(for: limit)
                self?.expire(wait)
            }
            defer { timeout.cancel() }
            let result = await withCheckedContinuation { continuation in
                lock.withLock {
                    if let result = nextResult() {
                        continuation.resume(returning: result)
                    } else if expired == wait {
                        continuation.resume(returning: .failure(.timedOut))
                    } else {
                        waiter = (wait, continuation)
                    }
                }
            }
            return try result.get()
        }

        /// Under the lock.
        private func nextResult() -> Result<String, Failure>? {
            if !lines.isEmpty { return .success(lines.removeFirst()) }
            return closed ? .failure(.closed) : nil
        }

        private func expire(_ wait: Int) {
            lock.withLock {
                expired = wait
                guard let waiter, waiter.wait == wait else { return }
                self.waiter = nil
                waiter.continuation.resume(returning: .failure(.timedOut))
            }
        }
    }

    /// Runs `body` with the reference tree's modules and a node on a loop (closed afterwards); without the tree it
    /// says the test is skipped and returns.
    static func withReference(_ body: (String, any EventLoop, UDXNode) async throws -> Void) async throws {
        guard let modules = nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let node = UDXNode(eventLoop: loop)
        defer { UDXSocketTests.close(node) }
        try await body(modules, loop, node)
    }

    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Our stream to a fresh udx-native peer in `mode`; returns the stream's observations and the peer.
    static func connect(
        _ modules: String, mode: String, bytes: Int, sending data: [UInt8], loop: any EventLoop, node: UDXNode,
        namespace: String? = nil
    ) async throws -> (UDXSocketTests.Observed, NodePeer, UDXSocketTests.Streams) {
        let peer = try NodePeer(modules: modules, id: 77, namespace: namespace)
        let (port, remoteID) = try await peer.first()
        // Bound on the loop's thread: in a namespace, that thread is the one inside it.
        let socket = try await loop.flatSubmit { node.bind(host: "127.0.0.1", port: 0) }.get()
        let seen = UDXSocketTests.Observed(loop: loop)
        let streams = UDXSocketTests.Streams()
        try await loop.submit {
            let stream = try node.makeStream(id: 5)
            try stream.connect(
                socket: socket, remoteID: remoteID, address: try SocketAddress(ipAddress: "127.0.0.1", port: port))
            UDXSocketTests.attach(stream, seen, sending: [], end: false)
            streams.all["ours"] = stream
        }.get()
        // We write once the peer's stream is connected: udx-native drops packets for a stream not yet connected.
        try peer.instruct(port: socket.port!, id: 5, mode: mode, bytes: bytes)
        try await peer.connected()
        try await loop.submit { UDXSocketTests.attach(streams["ours"], seen, sending: data) }.get()
        return (seen, peer, streams)
    }

    @Test func tenMegabytesFromUsToUdxNativeArriveIntact() async throws {
        try await Self.withReference { modules, loop, node in
            let data = Self.pattern(10_000_000)
            let (seen, peer, _) = try await Self.connect(modules, mode: "sink", bytes: 0, sending: data, loop: loop, node: node)
            let report = try await peer.report()
            #expect(report.error == nil)
            #expect(report.received == data.count)
            #expect(report.sha256 == Self.hex(SHA256.hash(data: data)))
            #expect(try await UDXSocketTests.deadline(seen.closed, seconds: 30, "our stream to finish").get() == .finished)
        }
    }

    @Test func tenMegabytesFromUdxNativeToUsArriveIntact() async throws {
        try await Self.withReference { modules, loop, node in
            let (seen, peer, _) = try await Self.connect(
                modules, mode: "send", bytes: 10_000_000, sending: [], loop: loop, node: node)
            #expect(try await UDXSocketTests.deadline(seen.closed, seconds: 60, "the transfer").get() == .finished)
            let report = try await peer.report()
            #expect(report.error == nil)
            try await loop.submit {
                #expect(seen.received.count == 10_000_000)
                #expect(seen.received == Self.pattern(10_000_000))
            }.get()
        }
    }

    @Test func udxNativeEchoesOurBytesAndMessages() async throws {
        try await Self.withReference { modules, loop, node in
            let data = Self.pattern(3_000_000)
            let (seen, peer, streams) = try await Self.connect(
                modules, mode: "echo", bytes: 0, sending: data, loop: loop, node: node)
            try await loop.submit {
                for text in ["one", "two", ""] { try streams["ours"].send(message: Array(text.utf8)) }
            }.get()
            #expect(try await UDXSocketTests.deadline(seen.closed, seconds: 60, "the echo").get() == .finished)
            let report = try await peer.report()
            #expect(report.error == nil && report.received == data.count)
            try await loop.submit {
                #expect(seen.received == data)
                #expect(seen.messages.count == 3 && Set(seen.messages) == Set([Array("one".utf8), Array("two".utf8), []]))
            }.get()
        }
    }

    /// SACK and retransmission against libudx itself, both ways: in a network namespace of the test's own that drops
    /// 5 % of all packets (iptables), with the Node peer started inside it, 4 MB from us to udx-native and 4 MB from
    /// it to us arrive intact. We repair from libudx's SACKs (our sender retransmits), and libudx repairs from ours
    /// (its sender reports retransmissions). Needs root and namespaces as well as the reference tree.
    @Test func bothWaysThroughALossyPathWithUdxNative() async throws {
        guard let modules = Self.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        guard let namespace = UDXLossyPathTests.namespace(lossPercent: 5) else { return }
        let loop = namespace.loop
        let node = UDXNode(eventLoop: loop)
        do {
            let data = Self.pattern(4_000_000)
            let (sent, sink, ours) = try await Self.connect(
                modules, mode: "sink", bytes: 0, sending: data, loop: loop, node: node, namespace: namespace.name)
            let sinkReport = try await sink.report()
            #expect(sinkReport.error == nil && sinkReport.received == data.count)
            #expect(sinkReport.sha256 == Self.hex(SHA256.hash(data: data)))
            #expect(try await UDXSocketTests.deadline(sent.closed, seconds: 60, "our stream to finish").get() == .finished)
            #expect(try await loop.submit { ours["ours"].counters.retransmissions }.get() > 0)

            let otherNode = UDXNode(eventLoop: loop)
            let (seen, source, _) = try await Self.connect(
                modules, mode: "send", bytes: 4_000_000, sending: [], loop: loop, node: otherNode,
                namespace: namespace.name)
            #expect(try await UDXSocketTests.deadline(seen.closed, seconds: 60, "the transfer").get() == .finished)
            let sourceReport = try await source.report()
            #expect(sourceReport.error == nil)
            #expect((sourceReport.stats?.retransmits ?? 0) > 0)
            try await loop.submit {
                #expect(seen.received == Self.pattern(4_000_000))
                _ = otherNode.close()
            }.get()
        } catch {
            try? await loop.flatSubmit { node.close() }.get()
            await namespace.remove()
            throw error
        }
        try await loop.flatSubmit { node.close() }.get()
        await namespace.remove()
    }

    /// DESTROY against libudx: resetting our stream mid-transfer makes udx-native's stream fail with a reset (not a
    /// clean end, not a timeout), at once.
    @Test func ourDestroyResetsUdxNativesStream() async throws {
        try await Self.withReference { modules, loop, node in
            let (_, peer, streams) = try await Self.connect(
                modules, mode: "sink", bytes: 0, sending: Self.pattern(200_000), loop: loop, node: node)
            try await loop.submit { streams["ours"].destroy() }.get()
            let report = try await peer.report()
            #expect(report.error != nil)
            #expect(report.errorCode == "ECONNRESET")
            #expect((report.ms ?? .infinity) < 5_000)
        }
    }

    /// Keep-alive against libudx: our idle stream sends a HEARTBEAT every 20 ms and udx-native acks each (its
    /// `process_packet` answers a probe with `send_ack`); the stream then still ends cleanly with nothing delivered.
    @Test func udxNativeAcksOurKeepAliveHeartbeats() async throws {
        try await Self.withReference { modules, loop, node in
            let peer = try NodePeer(modules: modules, id: 78)
            let (port, remoteID) = try await peer.first()
            let socket = try await node.bind(host: "127.0.0.1", port: 0).get()
            let seen = UDXSocketTests.Observed(loop: loop)
            let streams = UDXSocketTests.Streams()
            try await loop.submit {
                let stream = try node.makeStream(id: 6)
                try stream.connect(
                    socket: socket, remoteID: remoteID, address: try SocketAddress(ipAddress: "127.0.0.1", port: port))
                UDXSocketTests.attach(stream, seen, sending: [], end: false)
                streams.all["ours"] = stream
            }.get()
            try peer.instruct(port: socket.port!, id: 6, mode: "sink")
            try await peer.connected()
            let answered = loop.makePromise(of: (sent: Int, received: Int).self)
            let watch = try await loop.submit {
                let stream = streams["ours"]
                stream.setKeepAlive(milliseconds: 20)
                return loop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) { task in
                    let counters = stream.counters
                    guard counters.packetsReceived >= 5 else { return }
                    task.cancel()
                    answered.succeed((counters.heartbeatsSent, counters.packetsReceived))
                }
            }.get()
            let result = try? await UDXSocketTests.deadline(answered, seconds: 10, "acks to our heartbeats").get()
            watch.cancel()
            let (sent, received) = try #require(result)
            #expect(received >= 5 && sent >= received)
            try await loop.submit { try streams["ours"].end() }.get()
            #expect(try await UDXSocketTests.deadline(seen.closed, seconds: 30, "the clean end").get() == .finished)
            let report = try await peer.report()
            #expect(report.error == nil && report.received == 0)
        }
    }

    /// secret-stream (Noise XX) and protomux over UDX against @hyperswarm/secret-stream 6.9.1 + protomux over
    /// udx-native in Node: the handshake proves the Node peer's key, the channel opens both ways, and messages of
    /// several sizes (one larger than a UDX packet, one of 200 kB) come back byte for byte; a clean end closes both.
    @Test func secretStreamAndProtomuxOverUDXInteroperateWithTheNodeStack() async throws {
        try await Self.withReference { modules, loop, node in
            let script = URL(fileURLWithPath: Self.script).deletingLastPathComponent()
                .appendingPathComponent("udx-secret-peer.js").path
            let peer = try NodePeer(modules: modules, id: 41, script: script)
            let first = try await peer.nextObject()
            let port = try #require(first["port"] as? Int)
            let remoteID = try #require((first["id"] as? NSNumber)?.uint32Value)
            let nodeKey = try Hex.decode(try #require(first["publicKey"] as? String))
            let socket = try await node.bind(host: "127.0.0.1", port: 0).get()
            let stream = try await loop.submit {
                let stream = try node.makeStream(id: 9)
                try stream.connect(
                    socket: socket, remoteID: remoteID, address: try SocketAddress(ipAddress: "127.0.0.1", port: port))
                return stream
            }.get()
            try peer.instruct(port: socket.port!, id: 9, mode: "secret")
            try await peer.connected()
            let keys = Ed25519.randomKeyPair()
            let connection = try await loop.flatSubmit {
                do {
                    return SwarmConnection.establish(
                        over: stream,
                        session: try SecretStreamSession(
                            isInitiator: true, staticKeyPair: keys, expectedRemotePublicKey: nodeKey),
                        label: "node")
                } catch {
                    return loop.makeFailedFuture(error)
                }
            }.get()
            #expect(connection.remotePublicKey == nodeKey)
            connection.open(protocol: "pear/echo", id: [7], handshake: Array("swift says hi".utf8))
            let messages: [[UInt8]] = [
                Array("hello over udx".utf8), [], (0..<3000).map { UInt8(truncatingIfNeeded: $0) },
                (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) },
            ]
            for message in messages { connection.send(protocol: "pear/echo", id: [7], type: 0, message: message) }
            var events = connection.events.makeAsyncIterator()
            #expect(await events.next() == .opened(protocol: "pear/echo", id: [7], handshake: Array("node says hi".utf8)))
            for message in messages {
                #expect(await events.next() == .message(protocol: "pear/echo", id: [7], type: 0, message: message))
            }
            let opened = try await peer.nextObject()
            #expect(opened["opened"] as? String == Hex.encode(Array("swift says hi".utf8)))
            // secret-stream's unordered datagrams over UDX MESSAGE packets, both ways: the reference opens ours and
            // seals its echo so that we open it. (Sent again every 200 ms until the echo is in: datagrams may drop.)
            let datagram = Array("datagram from swift".utf8)
            let echoed = loop.makePromise(of: [UInt8].self)
            Task {
                for await received in connection.datagrams {
                    echoed.succeed(received)
                    return
                }
                echoed.succeed([])
            }
            let resend = Task {
                while !Task.isCancelled {
                    try connection.send(datagram: datagram)
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            let echo = try await UDXSocketTests.deadline(echoed, seconds: 10, "the datagram's echo").get()
            resend.cancel()
            #expect(echo == Array("echo:".utf8) + datagram)
            #expect(connection.droppedDatagrams == 0)
            connection.end()
            let closed = try await peer.nextObject()
            #expect(closed["closed"] as? Bool == true && closed["error"] is NSNull)
            #expect(closed["echoed"] as? Int == messages.count)
            #expect((closed["datagrams"] as? Int ?? 0) >= 1)
            #expect(closed["remotePublicKey"] as? String == Hex.encode(keys.publicKey))
            await connection.waitUntilClosed()
            #expect(connection.closeError == nil)
        }
    }
}
