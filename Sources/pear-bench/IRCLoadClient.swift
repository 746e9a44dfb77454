import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One IRC client of the load generator: registers, answers PINGs, and counts the timestamped PRIVMSGs it
/// receives (`t=<uptime ns>` at the start of the text), recording each one's delivery latency.
final class IRCLoadClient: Sendable {
    struct Counters {
        var received = 0
        var latenciesMs: [Double] = []
        /// When the latest delivery arrived (uptime nanoseconds).
        var lastArrival: UInt64 = 0
        var pending: [UInt8] = []
        var registered: CheckedContinuation<Void, any Error>?
        var isRegistered = false
        var awaitedToken: (token: String, continuation: CheckedContinuation<Void, any Error>)?
        var closed = false
    }

    struct Closed: Error, CustomStringConvertible {
        let nick: String
        var description: String { "\(nick): the server closed the connection" }
    }

    let nick: String
    let counters = Mutex(Counters())
    private let channel: any Channel

    private init(nick: String, channel: any Channel) {
        self.nick = nick
        self.channel = channel
    }

    static func connect(nick: String, host: String, port: Int, group: any EventLoopGroup) async throws -> IRCLoadClient {
        let box = ClientBox()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Reader(owner: box))
                }
            }
            .connect(host: host, port: port).get()
        let client = IRCLoadClient(nick: nick, channel: channel)
        box.client.withLock { $0 = client }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let done = client.counters.withLock { counters -> Bool in
                if counters.isRegistered { return true }
                counters.registered = continuation
                return false
            }
            if done { continuation.resume() }
            client.write("NICK \(nick)\r\nUSER \(nick) 0 * :load\r\n")
        }
        return client
    }

    func write(_ text: String) {
        channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
    }

    /// Writes without flushing; `flush()` sends everything written so far.
    func enqueue(_ text: String) {
        channel.write(ByteBuffer(string: text), promise: nil)
    }

    func flush() {
        channel.flush()
    }

    /// Returns once the server answered a PING sent now: everything it sent before has been read.
    func sync(_ token: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let closed = counters.withLock { counters -> Bool in
                if counters.closed { return true }
                counters.awaitedToken = (token, continuation)
                return false
            }
            if closed { continuation.resume(throwing: Closed(nick: nick)) }
            write("PING :\(token)\r\n")
        }
    }

    func close() {
        channel.close(promise: nil)
    }

    /// Forgets the deliveries counted so far (after a warm-up).
    func resetDeliveries() {
        counters.withLock { counters in
            counters.received = 0
            counters.latenciesMs = []
        }
    }

    /// The client a reader reports to, set once the connection exists.
    final class ClientBox: Sendable {
        let client = Mutex<IRCLoadClient?>(nil)
    }

    /// Line splitting and the few lines that matter; runs on the client's event loop.
    final class Reader: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let owner: ClientBox

        init(owner: ClientBox) {
            self.owner = owner
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let client = owner.client.withLock({ $0 }) else { return }
            var buffer = unwrapInboundIn(data)
            let now = DispatchTime.now().uptimeNanoseconds
            var replies: [String] = []
            var resumes: [CheckedContinuation<Void, any Error>] = []
            client.counters.withLock { counters in
                counters.pending += buffer.readBytes(length: buffer.readableBytes) ?? []
                var start = 0
                while let end = counters.pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = counters.pending[start..<end]
                    start = end + 1
                    Self.handle(line, now: now, counters: &counters, replies: &replies, resumes: &resumes)
                }
                counters.pending.removeFirst(start)
            }
            for reply in replies { client.write(reply) }
            for resume in resumes { resume.resume() }
        }

        func channelInactive(context: ChannelHandlerContext) {
            guard let client = owner.client.withLock({ $0 }) else { return }
            let waiting = client.counters.withLock { counters -> [CheckedContinuation<Void, any Error>] in
                counters.closed = true
                defer {
                    counters.registered = nil
                    counters.awaitedToken = nil
                }
                return [counters.registered, counters.awaitedToken?.continuation].compactMap { $0 }
            }
            for continuation in waiting { continuation.resume(throwing: Closed(nick: client.nick)) }
        }

        static let privmsg = Array(" PRIVMSG ".utf8)
        static let stamp = Array(":t=".utf8)

        static func handle(
            _ line: ArraySlice<UInt8>, now: UInt64, counters: inout Counters, replies: inout [String],
            resumes: inout [CheckedContinuation<Void, any Error>]
        ) {
            if line.starts(with: Array("PING".utf8)) {
                replies.append("PONG" + String(decoding: line.dropFirst(4), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) + "\r\n")
                return
            }
            // A delivery: `… PRIVMSG #chan :t=<ns> …`.
            if let at = line.firstRange(of: privmsg), let stampAt = line[at.upperBound...].firstRange(of: stamp) {
                var value: UInt64 = 0
                for byte in line[stampAt.upperBound...] {
                    guard byte >= 48, byte <= 57 else { break }
                    value = value * 10 + UInt64(byte - 48)
                }
                counters.received += 1
                counters.latenciesMs.append(Double(now &- value) / 1e6)
                counters.lastArrival = now
                return
            }
            let text = String(decoding: line, as: UTF8.self)
            let words = text.split(separator: " ", maxSplits: 3)
            if words.count >= 2, words[1] == "001", !counters.isRegistered {
                counters.isRegistered = true
                if let registered = counters.registered { resumes.append(registered) }
                counters.registered = nil
            } else if let awaited = counters.awaitedToken, words.count >= 2, words[1] == "PONG",
                text.contains(awaited.token)
            {
                resumes.append(awaited.continuation)
                counters.awaitedToken = nil
            }
        }
    }
}
