import Crypto
import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// Connects one NIO channel to the `IRCServerCore`: the bytes read are framed into lines here (`IRCLineFramer`) and
/// go in, in order, through the connection's inbox; output comes back through `IRCClientOutput`, with a bounded send
/// queue. Framing here rather than in a `ByteToMessageHandler` saves that handler, its pipeline slot and the read
/// buffer it would keep: about 1 KiB for every connection, most of which are idle. Input is bounded too: while more than
/// `backlogHighWatermark` lines wait for the core, the socket is not read (TCP slows the client down), and reading
/// resumes below `backlogLowWatermark`. No line is ever dropped.
final class IRCConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let backlogHighWatermark = 512
    static let backlogLowWatermark = 128

    /// Lines handed to the consumer task and not yet processed; shared between the event loop and that task.
    final class Backlog: Sendable {
        let waiting = Atomic<Int>(0)

        /// One line processed; true when that brought the backlog down to the low watermark.
        func consumedOne() -> Bool {
            waiting.subtract(1, ordering: .relaxed).newValue == IRCConnectionHandler.backlogLowWatermark
        }
    }

    private let backlog = Backlog()
    private var readPaused = false
    private var readPending = false

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

    /// What the inbox's drain task knows of the connection.
    final class Session: Sendable {
        let id = Mutex<ClientID?>(nil)
    }

    private let core: IRCServerCore
    private let secure: Bool
    private let sendQueueLimit: Int
    /// IRCv3 message-tags: a client's tag section (with `@` and the space) is at most 4096 bytes; the larger 8191-byte
    /// budget is the server's, for the tags it adds.
    private let parser = IRCMessageParser(limits: IRCMessageLimits(maxTagSectionBytes: 4096))
    private var inbox: ConnectionInbox<Input>?
    private var framer: IRCLineFramer

    init(core: IRCServerCore, secure: Bool, sendQueueLimit: Int, maxLineLength: Int) {
        framer = IRCLineFramer(maxLineLength: maxLineLength)
        self.core = core
        self.secure = secure
        self.sendQueueLimit = sendQueueLimit
    }

    func channelActive(context: ChannelHandlerContext) {
        let output = ConnectionOutput(channel: context.channel, limit: sendQueueLimit)
        let core = self.core, parser = self.parser, secure = self.secure, backlog = self.backlog
        let host = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let channel = context.channel
        let resumeReading: @Sendable () -> Void = {
            // Gone (and its event loop perhaps shut down): nothing to resume.
            if channel.isActive { eventLoop.execute { handler.value.resumeReading() } }
        }
        let session = Session()
        let inbox = ConnectionInbox<Input> { item in
            if case .connect = item {
                let id = await core.connect(output: output, host: host, secure: secure, certificateFingerprint: nil)
                session.id.withLock { $0 = id }
                return
            }
            // Refused (server full) or already gone: nothing more to tell the core.
            guard let id = session.id.withLock({ $0 }) else { return }
            switch item {
            case .connect:
                break
            case .line(let bytes):
                switch Result(catching: { () throws(IRCParseError) in try parser.parse(bytes) }) {
                case .success(let message): await core.received(message, from: id)
                case .failure(let error):
                    await core.malformed(error, label: IRCTag.value(of: "label", inRawLine: bytes), from: id)
                }
            case .oversized:
                await core.oversizedLine(from: id)
            case .certificate(let fingerprint):
                await core.certificatePresented(fingerprint, by: id)
            case .disconnect:
                session.id.withLock { $0 = nil }
                await core.disconnected(id, reason: output.closeReason ?? "Connection closed")
                return
            }
            if backlog.consumedOne() { resumeReading() }
        }
        self.inbox = inbox
        inbox.post(.connect)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The buffer is NIO's pooled read buffer: the framer copies what it keeps, so the pool can reuse it.
        for event in framer.feed(unwrapInboundIn(data).readableBytesView) {
            backlog.waiting.add(1, ordering: .relaxed)
            switch event {
            case .line(let bytes): inbox?.post(.line(bytes))
            case .oversizedLine: inbox?.post(.oversized)
            }
        }
    }

    /// Reads on demand: held back while the core has a backlog of this client's lines.
    func read(context: ChannelHandlerContext) {
        if backlog.waiting.load(ordering: .relaxed) >= Self.backlogHighWatermark {
            readPaused = true
            readPending = true
        } else {
            context.read()
        }
    }

    private func resumeReading() {
        guard readPaused, backlog.waiting.load(ordering: .relaxed) <= Self.backlogLowWatermark else { return }
        readPaused = false
        if readPending, let context = self.context {
            readPending = false
            context.read()
        }
    }

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The TLS handshake completes before any line can be decrypted, so the fingerprint is queued ahead of them.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls,
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
            let certificate = handler.peerCertificate, let der = try? certificate.toDERBytes()
        {
            backlog.waiting.add(1, ordering: .relaxed)
            inbox?.post(.certificate(Self.fingerprint(der: der)))
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// IRC's CertFP: the SHA-256 of the certificate's DER encoding, in lowercase hex.
    static func fingerprint(der: [UInt8]) -> String {
        SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A last line the client sent without a terminator before closing still counts.
        if let last = framer.finish() {
            backlog.waiting.add(1, ordering: .relaxed)
            inbox?.post(.line(last))
        }
        inbox?.post(.disconnect)
        inbox = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
