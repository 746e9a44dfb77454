import IRCServer
import NIOCore
import Synchronization

/// The IRC core's handle on one WebSocket client: the core queues encoded lines (each ending in CR LF, several at
/// once when it batches); they go out one line per frame, without the CR LF (IRCv3 WebSocket). As with TCP clients,
/// bytes queued and not yet written are counted, and a client that lets them pass the send queue limit is closed at
/// once ("SendQ exceeded") rather than grow memory without bound. A client the core closes gets a close frame after
/// what was queued, and its socket is shut `closeGrace` later whatever it does (a client that never answers the close,
/// or never reads, would otherwise keep it open past the core's limits).
final class WebSocketLineOutput: IRCClientOutput {
    enum Item: Sendable {
        case line([UInt8])
        case close
    }

    private struct Counters {
        var pending = 0
        var closed = false
        var closeReason: String?
    }

    private let limit: Int
    private let counters = Mutex(Counters())
    /// The socket, shut when the client must go now (nil in tests without one).
    private let channel: (any Channel)?
    static let closeGrace: TimeAmount = .seconds(2)
    private let continuation: AsyncStream<Item>.Continuation
    /// What the session's writer sends, in order.
    let items: AsyncStream<Item>
    private let closedSignal: AsyncStream<Void>.Continuation
    private let closedEvents: AsyncStream<Void>

    init(limit: Int, channel: (any Channel)? = nil) {
        self.limit = limit
        self.channel = channel
        (items, continuation) = AsyncStream.makeStream()
        (closedEvents, closedSignal) = AsyncStream.makeStream()
    }

    var closeReason: String? { counters.withLock { $0.closeReason } }

    func send(_ bytes: [UInt8]) {
        let accepted = counters.withLock { counters -> Bool in
            guard !counters.closed else { return false }
            counters.pending += bytes.count
            if counters.pending > limit {
                counters.closed = true
                counters.closeReason = "SendQ exceeded"
                return false
            }
            return true
        }
        guard accepted else {
            if closeReason == "SendQ exceeded" {
                continuation.yield(.close)
                continuation.finish()
                // The writer may be stuck behind a client that does not read: the socket goes now.
                channel?.close(promise: nil)
            }
            return
        }
        var start = bytes.startIndex
        while start < bytes.endIndex {
            var end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            let next = end < bytes.endIndex ? end + 1 : end
            if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end > start { continuation.yield(.line(Array(bytes[start..<end]))) }
            start = next
        }
    }

    /// The writer put `count` bytes' worth of lines on the wire.
    func written(_ count: Int) {
        counters.withLock { $0.pending -= count }
    }

    func close() {
        let first = counters.withLock { counters -> Bool in
            defer { counters.closed = true }
            return !counters.closed || counters.closeReason == "SendQ exceeded"
        }
        if first { continuation.yield(.close) }
        continuation.finish()
        if let channel {
            channel.eventLoop.scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
        }
    }

    /// The session ended (its socket closed).
    func ended() {
        counters.withLock { $0.closed = true }
        continuation.finish()
        closedSignal.yield()
        closedSignal.finish()
    }

    func waitUntilClosed(closingAtOnceAfter deadline: Duration) async {
        let closedEvents = self.closedEvents
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in closedEvents { return } }
            group.addTask { try? await Task.sleep(for: deadline) }
            await group.next()
            group.cancelAll()
        }
        // Still open at the deadline (a client that does not read): shut at once.
        if let channel, channel.isActive { try? await channel.close() }
    }
}
