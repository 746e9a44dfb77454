import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A minimal IRC client for tests: sends lines, collects received lines, and waits for one with a timeout.
public final class LineClient: Sendable {
    public struct Timeout: Error, CustomStringConvertible {
        let waitingFor: String
        let seen: [String]
        public var description: String { "timed out waiting for \(waitingFor); saw \(seen.suffix(8))" }
    }

    /// Collects complete lines; the only state shared between the event loop and the test.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state = Mutex<(lines: [String], pending: String, closed: Bool)>(([], "", false))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            state.withLock { state in
                state.pending += text
                // Split on bytes: in Swift "\r\n" is one Character, so a Character search for "\n" misses it.
                while let newline = state.pending.utf8.firstIndex(of: UInt8(ascii: "\n")) {
                    var line = Array(state.pending.utf8[..<newline])
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    state.lines.append(String(decoding: line, as: UTF8.self))
                    state.pending = String(state.pending.utf8[state.pending.utf8.index(after: newline)...]) ?? ""
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }
    }

    private let channel: any Channel
    private let collector: Collector

    /// - Parameters:
    ///   - clientCertificate: PEM files of a certificate (and its key) to present over TLS.
    ///   - receiveBufferSize: the socket's receive buffer (`SO_RCVBUF`), set before connecting so the window the
    ///     server sees is that small: a client that stops reading then fills up after a few KiB, not megabytes.
    public static func connect(
        port: Int, tls: Bool = false, clientCertificate: (chain: String, key: String)? = nil,
        tlsConfiguration: TLSConfiguration? = nil, receiveBufferSize: Int? = nil, group: any EventLoopGroup
    ) async throws -> LineClient {
        let context: NIOSSLContext? = tls ? try {
            var configuration = tlsConfiguration ?? TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            if let clientCertificate {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCertificate.chain).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientCertificate.key, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        }() : nil
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: group)
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferSize))
        }
        let channel = try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return LineClient(channel: channel, collector: collector)
    }

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    public var isClosed: Bool { collector.state.withLock { $0.closed } }

    /// Stops reading from the socket, as a client that hangs would: what the server sends piles up in the socket
    /// buffers until they are full, and the server's writes to it no longer complete.
    public func stopReading() async throws {
        try await channel.setOption(.autoRead, value: false).get()
    }

    /// Sends raw bytes as they are (lines with invalid UTF-8, say); add the CR LF yourself.
    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    public func send(_ line: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: line + "\r\n")).get()
    }

    /// Waits until a received line satisfies `predicate`; returns it and forgets every line up to it.
    @discardableResult
    public func waitFor(_ description: String, timeout: Duration = .seconds(10), _ predicate: @Sendable (String) -> Bool)
        async throws -> String
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = collector.state.withLock { state -> String? in
                guard let index = state.lines.firstIndex(where: predicate) else { return nil }
                let line = state.lines[index]
                state.lines.removeFirst(index + 1)
                return line
            }
            if let found { return found }
            if isClosed { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw Timeout(waitingFor: description, seen: collector.state.withLock { $0.lines })
    }

    @discardableResult
    public func waitFor(containing text: String, timeout: Duration = .seconds(10)) async throws -> String {
        try await waitFor(text, timeout: timeout) { $0.contains(text) }
    }

    /// Every line received and not yet waited for; forgets them.
    public func takeLines() -> [String] {
        collector.state.withLock { state in
            defer { state.lines = [] }
            return state.lines
        }
    }

    /// Waits until the server closes the connection.
    public func waitUntilClosed(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isClosed, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        if !isClosed { throw Timeout(waitingFor: "close", seen: collector.state.withLock { $0.lines }) }
    }

    public func close() async {
        try? await channel.close()
    }
}
