import Foundation
import IRCServer
import Logging
import NIOCore
import NIOPosix
import PearBridge
import SwarmEngine
import Synchronization

/// Issue 6's room figure: the sustained throughput of a room with several writer gateways (in this process, joined
/// over loopback TCP by secret-stream + protomux). The latency figures are `P2PLoadBenchmarks`' (gateways as processes).
enum P2PBenchmarks {
    /// A gateway as `pearircd run` builds it, on free ports.
    struct Node {
        let gateway: Gateway
        let listener: IRCListener
        let transport: SwarmTransport
        let ircPort: Int
        let peerPort: Int
        let directory: URL
        /// Runs the gateway's service loop for the benchmark's lifetime.
        let runner: Task<Void, Never>

        static func start(_ name: String, root: URL) async throws -> Node {
            let directory = root.appendingPathComponent(name)
            let data = DataDirectory(url: directory)
            let identity = try Identity.loadOrCreate(in: data)
            var logger = Logger(label: "bench.\(name)")
            logger.logLevel = .error
            let gateway = try Gateway(directory: data, identity: identity, logger: logger)
            let runner = Task { _ = try? await gateway.run() }
            var configuration = IRCServerConfiguration()
            configuration.listeners = [.init(port: 0, tls: false)]
            configuration.historyOnJoin = 0
            let listener = try await IRCListener.start(
                configuration: configuration, backend: GatewayBackend(gateway: gateway, connector: nil), tls: nil,
                logger: logger)
            let transport = SwarmTransport(keyPair: identity.keyPair, logger: logger)
            let (_, peerPort) = try await transport.listen(host: "127.0.0.1", port: 0) { connection in
                Task { await gateway.attach(connection) }
            }
            return Node(
                gateway: gateway, listener: listener, transport: transport, ircPort: listener.port(tls: false) ?? 0,
                peerPort: peerPort, directory: directory, runner: runner)
        }

        func connect(to other: Node) async throws {
            let connection = try await transport.connect(host: "127.0.0.1", port: other.peerPort)
            await gateway.attach(connection)
        }

        func stop() async {
            try? await listener.shutdown()
            try? await transport.shutdown()
            gateway.shutdown()
            await runner.value
        }
    }

    /// A bare IRC client that timestamps every line the moment it arrives (no polling in the measurement).
    final class Client: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        struct State {
            var pending: [UInt8] = []
            var lines: [(String, ContinuousClock.Instant)] = []
        }
        let state = Mutex(State())
        let channel = Mutex<(any Channel)?>(nil)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let now = ContinuousClock.now
            var buffer = unwrapInboundIn(data)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            state.withLock { state in
                state.pending += bytes
                while let newline = state.pending.firstIndex(of: UInt8(ascii: "\n")) {
                    var end = newline
                    if end > 0, state.pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                    let line = String(decoding: state.pending[..<end], as: UTF8.self)
                    state.lines.append((line, now))
                    state.pending.removeFirst(newline + 1)
                }
            }
        }

        static func connect(port: Int, group: any EventLoopGroup, nick: String, channel name: String) async throws -> Client {
            let client = Client()
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(client) }
                }
                .connect(host: "127.0.0.1", port: port).get()
            client.channel.withLock { $0 = channel }
            try await client.send("NICK \(nick)\r\nUSER \(nick) 0 * :\(nick)\r\nJOIN \(name)")
            try await client.wait { $0.contains(" 366 \(nick) ") }
            return client
        }

        func send(_ text: String) async throws {
            guard let channel = channel.withLock({ $0 }) else { return }
            try await channel.writeAndFlush(ByteBuffer(string: text + "\r\n")).get()
        }

        func wait(timeout: Duration = .seconds(30), _ predicate: (String) -> Bool) async throws {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if state.withLock({ $0.lines.contains { predicate($0.0) } }) { return }
                try await Task.sleep(for: .milliseconds(2))
            }
            throw BenchmarkTimeout(lastLines: state.withLock { $0.lines.suffix(5).map(\.0) })
        }

        func close() async { try? await channel.withLock { $0 }?.close() }
    }

    struct BenchmarkTimeout: Error {
        let lastLines: [String]
    }

    /// `writers` gateways each with one client sending `perWriter` lines as fast as it can into one room, all
    /// connected to a hub gateway whose client receives everything.
    static func throughput(writers: Int, perWriter: Int, report: BenchmarkReport) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pear-bench-p2p-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let hub = try await Node.start("hub", root: root)
        var nodes: [Node] = []
        for index in 0..<writers { nodes.append(try await Node.start("w\(index)", root: root)) }
        for node in nodes { try await node.connect(to: hub) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let reader = try await Client.connect(port: hub.ircPort, group: group, nick: "reader", channel: "#busy")
        var clients: [Client] = []
        for (index, node) in nodes.enumerated() {
            clients.append(try await Client.connect(port: node.ircPort, group: group, nick: "w\(index)", channel: "#busy"))
        }
        let total = writers * perWriter
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (index, client) in clients.enumerated() {
                tasks.addTask {
                    for sequence in 0..<perWriter { try await client.send("PRIVMSG #busy :line w\(index)-\(sequence)") }
                }
            }
            try await tasks.waitForAll()
        }
        let deadline = ContinuousClock.now + .seconds(300)
        while reader.state.withLock({ $0.lines.filter { $0.0.contains("PRIVMSG #busy :line w") }.count }) < total {
            guard ContinuousClock.now < deadline else { throw BenchmarkTimeout(lastLines: []) }
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = ContinuousClock.now - start
        let seconds = seconds(elapsed)
        report.figure("p2p.room_throughput", Double(total) / seconds, "lines/s", ["writers": "\(writers)", "lines": "\(total)"])
        for client in clients { await client.close() }
        await reader.close()
        for node in nodes { await node.stop() }
        await hub.stop()
        try await group.shutdownGracefully()
    }
}
