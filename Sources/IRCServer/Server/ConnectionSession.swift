import NIOCore
import Synchronization

/// One connection's input side, as the drain task of its `ConnectionInbox` sees it: registers the connection with
/// the core, parses each line and hands it over, and counts the lines still waiting so the handler can hold back
/// reads. One object per connection (most connections idle for hours, so every object and closure context kept per
/// connection is memory a thousand times over).
final class ConnectionSession: Sendable {
    enum Input: Sendable {
        /// The connection opened: register it with the core (always the first item).
        case connect
        case line([UInt8])
        case oversized
        /// The TLS handshake finished with this client certificate fingerprint (lowercase hex SHA-256 of the DER).
        case certificate(String)
        /// The connection closed (always the last item).
        case disconnect
    }

    /// Lines posted and not yet processed; read on the event loop, decremented by the drain task.
    let waiting = Atomic<Int>(0)
    private let output: ConnectionOutput
    private let core: IRCServerCore
    private let host: String
    private let secure: Bool
    /// The core's id for the connection: set by `connect`, nil when refused or gone.
    private let id = Mutex<ClientID?>(nil)
    private let handler: NIOLoopBound<IRCConnectionHandler>
    private let channel: any Channel

    init(core: IRCServerCore, output: ConnectionOutput, host: String, secure: Bool, handler: IRCConnectionHandler, channel: any Channel) {
        self.core = core
        self.output = output
        self.host = host
        self.secure = secure
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.channel = channel
    }

    /// On the drain task, in the order posted.
    func process(_ item: Input) async {
        if case .connect = item {
            let assigned = await core.connect(output: output, host: host, secure: secure, certificateFingerprint: nil)
            id.withLock { $0 = assigned }
            return
        }
        // Refused (server full) or already gone: nothing more to tell the core.
        guard let id = id.withLock({ $0 }) else { return }
        switch item {
        case .connect:
            break
        case .line(let bytes):
            await core.received(line: bytes, from: id)
        case .oversized:
            await core.oversizedLine(from: id)
        case .certificate(let fingerprint):
            await core.certificatePresented(fingerprint, by: id)
        case .disconnect:
            self.id.withLock { $0 = nil }
            await core.disconnected(id, reason: output.closeReason ?? "Connection closed")
            return
        }
        let left = waiting.subtract(1, ordering: .relaxed).newValue
        // Gone (and its event loop perhaps shut down): nothing to resume.
        if left == IRCConnectionHandler.backlogLowWatermark, channel.isActive {
            let handler = self.handler
            channel.eventLoop.execute { handler.value.resumeReading() }
        }
    }
}
