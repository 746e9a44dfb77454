import Crypto
import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// Connects one NIO channel to the `IRCServerCore`: the bytes read are framed into lines here (`IRCLineFramer`) and
/// go in, in order, through the connection's inbox to its `ConnectionSession`; output comes back through
/// `ConnectionOutput`, with a bounded send queue. Framing here rather than in a `ByteToMessageHandler` saves that handler, its pipeline slot and the read
/// buffer it would keep: about 1 KiB for every connection, most of which are idle. Input is bounded too: while more than
/// `backlogHighWatermark` lines wait for the core, the socket is not read (TCP slows the client down), and reading
/// resumes below `backlogLowWatermark`. No line is ever dropped.
final class IRCConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let backlogHighWatermark = 512
    static let backlogLowWatermark = 128

    private var readPaused = false
    private var readPending = false
    private let core: IRCServerCore
    private let secure: Bool
    private let sendQueueLimit: Int
    /// Set when the channel becomes active.
    private var session: ConnectionSession?
    private var inbox: ConnectionInbox<ConnectionSession.Input>?
    private var framer: IRCLineFramer

    /// Lines waiting for the core (none before the channel is active).
    private var waiting: Int { session?.waiting.load(ordering: .relaxed) ?? 0 }

    /// Queues an input item for the core, counted as waiting unless it is the first or the last.
    private func post(_ item: ConnectionSession.Input) {
        switch item {
        case .connect, .disconnect: break
        case .line, .oversized, .certificate: session?.waiting.add(1, ordering: .relaxed)
        }
        inbox?.post(item)
    }

    init(core: IRCServerCore, secure: Bool, sendQueueLimit: Int, maxLineLength: Int) {
        framer = IRCLineFramer(maxLineLength: maxLineLength)
        self.core = core
        self.secure = secure
        self.sendQueueLimit = sendQueueLimit
    }

    func channelActive(context: ChannelHandlerContext) {
        let session = ConnectionSession(
            core: core, output: ConnectionOutput(channel: context.channel, limit: sendQueueLimit),
            host: context.channel.remoteAddress?.ipAddress ?? "unknown", secure: secure, handler: self,
            channel: context.channel)
        self.session = session
        inbox = ConnectionInbox(executor: core.executor) { await session.process($0) }
        post(.connect)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The buffer is NIO's pooled read buffer: the framer copies what it keeps, so the pool can reuse it.
        for event in framer.feed(unwrapInboundIn(data).readableBytesView) {
            switch event {
            case .line(let bytes): post(.line(bytes))
            case .oversizedLine: post(.oversized)
            }
        }
    }

    /// Reads on demand: held back while the core has a backlog of this client's lines.
    func read(context: ChannelHandlerContext) {
        if waiting >= Self.backlogHighWatermark {
            readPaused = true
            readPending = true
        } else {
            context.read()
        }
    }

    /// On the event loop, when the core has worked the backlog down to the low watermark.
    func resumeReading() {
        guard readPaused, waiting <= Self.backlogLowWatermark else { return }
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
            post(.certificate(Self.fingerprint(der: der)))
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// IRC's CertFP: the SHA-256 of the certificate's DER encoding, in lowercase hex.
    static func fingerprint(der: [UInt8]) -> String {
        SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A last line the client sent without a terminator before closing still counts.
        if let last = framer.finish() { post(.line(last)) }
        post(.disconnect)
        // The drain task keeps what it still needs; the session's reference to this handler ends with it.
        inbox = nil
        session = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
