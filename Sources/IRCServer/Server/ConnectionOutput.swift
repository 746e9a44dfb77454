import NIOCore
import NIOSSL
import Synchronization

/// The core's handle on one connection. Writes happen on the channel's event loop; bytes written but not yet on
/// the wire are counted, and a client that lets them exceed the limit is disconnected ("SendQ exceeded") instead
/// of growing memory without bound.
final class ConnectionOutput: IRCClientOutput {
    private struct Counters {
        /// Bytes accepted and not yet on the wire (in `outbox` or written to the channel).
        var pending = 0
        var closeReason: String?
        /// Encoded lines waiting for the event loop; moved out in one piece by `drain`.
        var outbox: [UInt8] = []
        var drainScheduled = false
    }

    private let channel: any Channel
    private let limit: Int
    private let counters = Mutex(Counters())

    init(channel: any Channel, limit: Int) {
        self.channel = channel
        self.limit = limit
    }

    var closeReason: String? { counters.withLock { $0.closeReason } }

    /// Queues lines for the client. Lines queued before the event loop gets to them go out as one write and one
    /// flush: a channel line fans out to every member as separate sends, and writing each through the pipeline on
    /// its own cost a task, a promise and a system call per delivery.
    func send(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let count = bytes.count
        enum Outcome { case queued(scheduleDrain: Bool), refused, exceeded }
        let outcome = counters.withLock { counters -> Outcome in
            guard counters.closeReason == nil else { return .refused }
            if limit > 0, counters.pending + count > limit {
                counters.closeReason = "SendQ exceeded"
                counters.outbox = []
                return .exceeded
            }
            counters.pending += count
            // The first lines since the last drain are taken as they are (often a shared encoding), not copied.
            if counters.outbox.isEmpty { counters.outbox = bytes } else { counters.outbox.append(contentsOf: bytes) }
            defer { counters.drainScheduled = true }
            return .queued(scheduleDrain: !counters.drainScheduled)
        }
        let channel = self.channel
        switch outcome {
        case .queued(let scheduleDrain):
            // A closed connection's event loop may be shut down; what it was sent is moot.
            if scheduleDrain, channel.isActive { channel.eventLoop.execute { self.drain() } }
        case .refused:
            return
        case .exceeded:
            guard channel.isActive else { return }
            channel.eventLoop.execute {
                // The client is not reading, so waiting for its queue to drain could take forever: write what fits
                // and close at once.
                var error = channel.allocator.buffer(capacity: 64)
                error.writeString("ERROR :Closing Link: (SendQ exceeded)\r\n")
                channel.writeAndFlush(error, promise: nil)
                channel.close(promise: nil)
            }
        }
    }

    /// On the event loop: writes everything queued so far as one buffer.
    private func drain() {
        let bytes = counters.withLock { counters -> [UInt8] in
            counters.drainScheduled = false
            defer { counters.outbox = [] }
            return counters.outbox
        }
        guard !bytes.isEmpty else { return }
        let count = bytes.count
        var buffer = channel.allocator.buffer(capacity: count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(buffer).whenComplete { _ in
            self.counters.withLock { $0.pending -= count }
        }
    }

    func close() {
        let channel = self.channel
        guard channel.isActive else { return }
        channel.eventLoop.execute {
            // Let queued output (the ERROR line) reach the wire first, but never wait on a client that stopped
            // reading for more than a moment.
            channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { _ in
                channel.close(promise: nil)
            }
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }

    func waitUntilClosed(closingAtOnceAfter deadline: Duration) async {
        let channel = self.channel
        let forced = channel.eventLoop.scheduleTask(in: TimeAmount(deadline)) { Self.closeAtOnce(channel) }
        try? await channel.closeFuture.get()
        forced.cancel()
    }

    /// On the event loop: closes the connection now, below the TLS handler if there is one. A client that has not
    /// read what it was sent will not answer a TLS close_notify either, and the TLS handler would wait for that
    /// answer (NIOSSL's shutdown timeout, 5 s) before closing.
    private static func closeAtOnce(_ channel: any Channel) {
        if let tls = try? channel.pipeline.syncOperations.context(handlerType: NIOSSLServerHandler.self) {
            tls.close(promise: nil)
        } else {
            channel.close(promise: nil)
        }
    }
}
