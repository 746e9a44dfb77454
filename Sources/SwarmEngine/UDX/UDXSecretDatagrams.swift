import NIOCore
import Synchronization

/// secret-stream's unordered datagrams riding on a UDX stream's MESSAGE packets, as `@hyperswarm/secret-stream` 6.9
/// sends them over a udx-native stream (`send`/`trySend` out, `'message'` in): each is sealed by
/// `SecretStreamDatagrams` with keys from the connection's handshake hash, so only the peer of this connection can
/// open it. Not ordered, not retransmitted, not replay-checked, as in the reference. One per `SwarmConnection` that
/// runs over UDX, made when its handshake completes (datagrams that arrive earlier are dropped, as the reference
/// drops them).
///
/// Received datagrams wait in `received` for the reader; at most `bufferLimit` of them, beyond which the oldest are
/// dropped: a reader that stops reading costs bounded memory, and for unreliable datagrams the newest matter most.
final class UDXSecretDatagrams: Sendable {
    static let bufferLimit = 256

    /// The largest message `send` takes: the stream's MESSAGE payload less the counter and MAC.
    let maximumMessage: Int
    let received: AsyncStream<[UInt8]>
    private let continuation: AsyncStream<[UInt8]>.Continuation
    private let state: NIOLoopBound<State>
    private let droppedCount = Atomic<Int>(0)

    /// Loop-confined: the stream and the sealing counter.
    private final class State {
        let stream: UDXStream
        var sealing: SecretStreamDatagrams
        init(stream: UDXStream, sealing: SecretStreamDatagrams) {
            self.stream = stream
            self.sealing = sealing
        }
    }

    /// Takes over `stream`'s `onMessage`. On the stream's event loop.
    init(stream: UDXStream, isInitiator: Bool, handshakeHash: [UInt8]) {
        let sealing = SecretStreamDatagrams(isInitiator: isInitiator, handshakeHash: handshakeHash)
        state = NIOLoopBound(State(stream: stream, sealing: sealing), eventLoop: stream.node.eventLoop)
        maximumMessage = stream.payloadSize - SecretStreamDatagrams.overhead
        (received, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferLimit))
        stream.onMessage = { [weak self] envelope in self?.receive(envelope, sealing: sealing) }
    }

    /// Datagrams dropped on the way in: failed to open (forged, corrupted, another connection's), or pushed out of
    /// the buffer by newer ones while the reader lagged.
    var dropped: Int { droppedCount.load(ordering: .relaxed) }

    /// Seals and sends one datagram (on the loop). A closed stream sends nothing, as the reference's `trySend`.
    func send(_ message: [UInt8]) {
        let state = self.state
        state.eventLoop.execute {
            let state = state.value
            guard let envelope = try? state.sealing.seal(message) else {
                // The 8-byte counter came round to its start after 2^64 datagrams: no fresh nonce is left, and the
                // reference destroys the stream.
                state.stream.destroy()
                return
            }
            try? state.stream.send(message: envelope)
        }
    }

    /// Ends `received` (the connection closed).
    func finish() {
        continuation.finish()
    }

    private func receive(_ envelope: [UInt8], sealing: SecretStreamDatagrams) {
        guard let message = try? sealing.open(envelope) else {
            droppedCount.add(1, ordering: .relaxed)
            SwarmMetrics.droppedDatagrams.increment()
            return
        }
        if case .dropped = continuation.yield(message) {
            droppedCount.add(1, ordering: .relaxed)
            SwarmMetrics.droppedDatagrams.increment()
        }
    }
}
