import Foundation
import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import Synchronization

/// Issue 4's figures: encrypted throughput of one secret-stream + protomux connection over loopback (64 KiB
/// messages), next to plain TCP and to libsodium secretstream alone, and handshakes per second.
enum SwarmBenchmarks {
    final class Counter: Sendable {
        let bytes = Mutex(0)
    }

    /// Discards and counts what arrives on a plain TCP connection.
    final class CountingHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let counter: Counter
        init(counter: Counter) { self.counter = counter }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let count = unwrapInboundIn(data).readableBytes
            counter.bytes.withLock { $0 += count }
        }
    }

    static func run(megabytes: Int, handshakes: Int, report: BenchmarkReport) async throws {
        let chunk = [UInt8](repeating: 0xab, count: 64 * 1024)
        let messages = megabytes * 16
        let total = messages * chunk.count
        let parameters = ["bytes": "\(total)", "write": "65536"]

        // Crypto-only limit: push + pull of the same bytes, one core.
        let key = SecureBytes(RandomBytes.generate(count: 32))
        var push = try SecretStreamSender(key: key)
        var pull = try SecretStreamReceiver(key: key, header: push.header)
        let cryptoSeconds = try measure {
            for _ in 0..<messages { _ = try pull.pull(push.push(chunk)) }
        }
        report.figure("swarm.crypto_only", Double(total) / cryptoSeconds / 1e6, "MB/s", parameters)

        // Plain TCP over loopback.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let counter = Counter()
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CountingHandler(counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress?.port ?? 0
        let client = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        let plainSeconds = try await measureAsync {
            for _ in 0..<messages { client.write(client.allocator.buffer(bytes: chunk), promise: nil) }
            client.flush()
            while counter.bytes.withLock({ $0 }) < total { try await Task.sleep(for: .milliseconds(1)) }
        }
        report.figure("swarm.plain_tcp", Double(total) / plainSeconds / 1e6, "MB/s", parameters)
        try await client.close()
        try await server.close()

        // secret-stream + protomux over loopback TCP.
        let serverSide = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let clientSide = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let received = Counter()
        let accepted = Mutex<SwarmConnection?>(nil)
        let (listener, swarmPort) = try await serverSide.listen(host: "127.0.0.1", port: 0) { connection in
            accepted.withLock { $0 = connection }
            Task {
                for await event in connection.events {
                    if case .message(_, _, _, let message) = event { received.bytes.withLock { $0 += message.count } }
                }
            }
        }
        let connection = try await clientSide.connect(host: "127.0.0.1", port: swarmPort)
        connection.open(protocol: "bench", id: [1], handshake: [])
        while accepted.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(1)) }
        accepted.withLock { $0 }?.open(protocol: "bench", id: [1], handshake: [])
        let encryptedSeconds = try await measureAsync {
            // Paced by the connection's flow control, as a real bulk sender is.
            for _ in 0..<messages {
                await connection.writable()
                connection.send(protocol: "bench", id: [1], type: 0, message: chunk)
            }
            while received.bytes.withLock({ $0 }) < total { try await Task.sleep(for: .milliseconds(1)) }
        }
        let encrypted = Double(total) / encryptedSeconds / 1e6
        report.figure("swarm.encrypted", encrypted, "MB/s", parameters)
        report.figure("swarm.encrypted_vs_crypto_only", encrypted / (Double(total) / cryptoSeconds / 1e6) * 100, "%", parameters)
        connection.disconnect()

        // Handshakes per second: sequential connect + XX + header exchange.
        let handshakeSeconds = try await measureAsync {
            for _ in 0..<handshakes {
                let connection = try await clientSide.connect(host: "127.0.0.1", port: swarmPort)
                connection.disconnect()
            }
        }
        report.figure("swarm.handshakes", Double(handshakes) / handshakeSeconds, "handshakes/s", ["count": "\(handshakes)"])
        try await listener.close()
        try await serverSide.shutdown()
        try await clientSide.shutdown()
        try await group.shutdownGracefully()
    }
}
