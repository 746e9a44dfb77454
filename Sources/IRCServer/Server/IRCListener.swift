import Foundation
import Logging
import LoopExecutors
import NIOCore
import NIOPosix
import NIOSSL

/// The NIO side of the IRC front end: binds the configured listeners (plain and TLS) and wires every accepted
/// connection to the `IRCServerCore`.
public final class IRCListener: Sendable {
    public let core: IRCServerCore
    private let group: any EventLoopGroup
    /// Whether `shutdown()` shuts `group` down (it does when the listener made it).
    private let ownsGroup: Bool
    private let channels: [any Channel]
    /// The addresses actually bound, in configuration order (port 0 in the configuration picks a free port).
    public let boundAddresses: [(listener: IRCServerConfiguration.Listener, address: SocketAddress)]

    /// Binds every listener. The TLS context is built once and shared by all TLS connections.
    public static func start(
        configuration: IRCServerConfiguration, backend: any ChatBackend, tls: NIOSSLContext?,
        logger: Logger = Logger(label: "pearircd.irc"),
        group sharedGroup: (any EventLoopGroup)? = nil
    ) async throws -> IRCListener {
        // The daemon shares one event-loop group between its listeners and connections when it passes one (one loop
        // for the IRC side: the core runs on it, see `IRCServerCore`).
        let group = sharedGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let core = IRCServerCore(configuration: configuration, backend: backend, executor: EventLoopExecutor(group.next()), logger: logger)
        await core.start()
        var channels: [any Channel] = []
        var bound: [(IRCServerConfiguration.Listener, SocketAddress)] = []
        let maxLine = IRCMessageLimits.standard.maxLineBytes
        let sendQueue = configuration.sendQueueLimit
        do {
            for listener in configuration.listeners {
                let context = listener.tls ? tls : nil
                if listener.tls, context == nil { throw IRCListenerError.tlsNotConfigured }
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    // Most IRC reads are a line or two; start small (NIO would start at 2 KiB) and let the allocator
                    // grow for clients that send more. NIO keeps each connection's read buffer for reuse, so this
                    // is memory every idle connection holds.
                    .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536))
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let pipeline = channel.pipeline.syncOperations
                            if let context {
                                // Client certificates identify by fingerprint (CertFP), whoever signed them.
                                try pipeline.addHandler(
                                    NIOSSLServerHandler(context: context) { _, verified in verified.succeed(.certificateVerified) })
                            }
                            try pipeline.addHandler(
                                IRCConnectionHandler(
                                    core: core, secure: context != nil, sendQueueLimit: sendQueue, maxLineLength: maxLine))
                        }
                    }
                    .bind(host: listener.host, port: listener.port)
                    .get()
                channels.append(channel)
                if let address = channel.localAddress { bound.append((listener, address)) }
                logger.info(
                    "IRC listener ready",
                    metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "tls": "\(listener.tls)"])
            }
        } catch {
            for channel in channels { try? await channel.close() }
            if sharedGroup == nil { try? await group.shutdownGracefully() }
            await core.stop()
            throw error
        }
        return IRCListener(core: core, group: group, ownsGroup: sharedGroup == nil, channels: channels, bound: bound)
    }

    private init(
        core: IRCServerCore, group: any EventLoopGroup, ownsGroup: Bool, channels: [any Channel],
        bound: [(IRCServerConfiguration.Listener, SocketAddress)]
    ) {
        self.core = core
        self.group = group
        self.ownsGroup = ownsGroup
        self.channels = channels
        self.boundAddresses = bound.map { (listener: $0.0, address: $0.1) }
    }

    /// The port a listener ended up on.
    public func port(tls: Bool) -> Int? {
        boundAddresses.first { $0.listener.tls == tls }?.address.port
    }

    /// Shuts the server down: stops accepting, tells every connected client why (`ERROR :Closing Link: <host>
    /// (<reason>)`) and closes each connection once that line is written, then stops the core and the event loops.
    /// Bounded in time: a client that does not read is closed regardless once `deadline` has passed.
    public func shutdown(reason: String = "Server shutting down", deadline: Duration = .seconds(2)) async throws {
        // Listening sockets first, so nobody is welcomed while the others are being told to go.
        for channel in channels { try? await channel.close() }
        await core.shutdown(reason: reason, deadline: deadline)
        await core.stop()
        if ownsGroup { try await group.shutdownGracefully() }
    }
}

public enum IRCListenerError: Error, CustomStringConvertible {
    case tlsNotConfigured

    public var description: String {
        switch self {
        case .tlsNotConfigured: "a TLS listener is configured but no certificate is available"
        }
    }
}
