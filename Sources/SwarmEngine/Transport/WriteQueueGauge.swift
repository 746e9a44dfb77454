import Synchronization

/// What code off the event loop can see of a connection's outgoing queue. The handler owns the queue on its event
/// loop and mirrors these two numbers here for observers (`SwarmConnection.unwrittenBytes`, tests, benchmarks).
final class WriteQueueGauge: Sendable {
    /// Bytes handed to the socket channel whose writes have not completed yet.
    let unwrittenBytes = Atomic<Int>(0)
    /// Senders parked in `SwarmConnection.writable()` until the queue drains below the low watermark.
    let parkedWriters = Atomic<Int>(0)
}
