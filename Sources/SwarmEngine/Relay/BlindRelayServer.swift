import CompactEncoding
import Logging
import NIOCore
import Sodium

/// A blind relay (blind-relay 1.6's `Server`, reached as hyperdht's `relayThrough`): a HyperDHT server whose clients
/// open the protomux channel "blind-relay" and ask to be paired under a token both ends of a connection know. When
/// both have asked, it makes a UDX stream for each, connected to each end's address by the end's first packet, and
/// forwards every packet of one to the other with the stream id rewritten. It never holds keys: what it forwards is
/// the two ends' secret-stream, sealed end to end.
///
/// Bounded: at most `Limits.sessions` connections, the pairing limits of `BlindRelayPairing`, and `bytesPerSecond`
/// over all the streams it relays (beyond, packets are dropped and the ends' congestion control slows down).
/// `pearircd dht-node --serve-relay` runs one. On the node's event loop.
public final class BlindRelayServer: @unchecked Sendable {
    public struct Limits: Sendable {
        public var sessions = 1024
        public var pairing = BlindRelayPairing.Limits()
        /// Relayed bytes per second over all pairs (a burst of one second's worth).
        public var bytesPerSecond = 16 << 20
        public init() {}
    }

    public let keyPair: Ed25519.KeyPair
    public let limits: Limits
    let node: DHTNode
    private let logger: Logger
    private var server: HyperDHTServer?
    private var pairing: BlindRelayPairing
    private var sessions: [Int: SwarmConnection] = [:]
    private var nextSession = 0
    /// The relay streams of each linked pair, by token, and the sessions they belong to.
    private var links: [[UInt8]: (streams: [UDXStream], sessions: Set<Int>)] = [:]
    private var budget: Double
    private var budgetRefilled = NIODeadline.now()
    /// Pairs linked so far, and requests refused.
    public private(set) var pairsLinked = 0
    public private(set) var refusals = 0
    /// Packets dropped because the bandwidth budget was spent.
    public private(set) var droppedOverBudget = 0

    init(node: DHTNode, keyPair: Ed25519.KeyPair, limits: Limits, logger: Logger) {
        self.node = node
        self.keyPair = keyPair
        self.limits = limits
        self.logger = logger
        pairing = BlindRelayPairing(limits: limits.pairing)
        budget = Double(limits.bytesPerSecond)
    }

    /// Starts a relay on `node` under `keyPair`: announced like any HyperDHT server, so that peers connect to it by
    /// its public key (the relay key).
    public static func start(
        on node: DHTNode, keyPair: Ed25519.KeyPair, limits: Limits = Limits(),
        logger: Logger = Logger(label: "pearircd.relay")
    ) -> EventLoopFuture<BlindRelayServer> {
        let relay = BlindRelayServer(node: node, keyPair: keyPair, limits: limits, logger: logger)
        return node.listen(keyPair: keyPair, logger: logger) { [weak relay] connection in
            relay?.accept(connection.connection)
        }.map { server in
            relay.server = server
            return relay
        }
    }

    public var sessionCount: Int { sessions.count }
    public var linkCount: Int { pairing.linkCount }
    public var waitingCount: Int { pairing.waitingCount }

    public func close() -> EventLoopFuture<Void> {
        for (_, link) in links { for stream in link.streams { stream.destroy() } }
        links.removeAll()
        for session in sessions.values { session.disconnect() }
        sessions.removeAll()
        return server?.close() ?? node.eventLoop.makeSucceededVoidFuture()
    }

    // MARK: - Sessions

    func accept(_ connection: SwarmConnection) {
        guard sessions.count < limits.sessions else {
            refusals += 1
            connection.disconnect()
            return
        }
        let session = nextSession
        nextSession += 1
        sessions[session] = connection
        // The channel id is the public key of the peer that connected (the client names it with its own key).
        let id = connection.remotePublicKey
        connection.open(protocol: BlindRelayProtocol.name, id: id, handshake: [])
        let loop = node.eventLoop
        Task { [weak self] in
            for await event in connection.events {
                guard case .message(let name, let channel, let type, let message) = event,
                    name == BlindRelayProtocol.name, channel == id
                else { continue }
                loop.execute { self?.received(type: type, message: message, session: session) }
            }
            loop.execute { self?.closed(session) }
        }
    }

    private func received(type: UInt64, message: [UInt8], session: Int) {
        guard let connection = sessions[session] else { return }
        switch type {
        case BlindRelayProtocol.pairMessage:
            guard let request = try? BlindRelayPair(compactEncoded: message) else { return }
            switch pairing.pair(session: session, isInitiator: request.isInitiator, token: request.token, streamID: request.id) {
            case .waiting, .duplicate:
                break
            case .refused(let why):
                refusals += 1
                logger.debug("relay: pairing refused", metadata: ["why": "\(why)"])
                // Nothing is kept; the request's connection hears nothing and gives up on its own.
                _ = connection
            case .matched(let initiator, let responder):
                link(token: request.token, initiator: initiator, responder: responder)
            }
        case BlindRelayProtocol.unpairMessage:
            guard let request = try? BlindRelayUnpair(compactEncoded: message) else { return }
            if !pairing.unpair(session: session, token: request.token), let link = links[request.token],
                link.sessions.contains(session)
            {
                unlink(request.token)
            }
        default:
            break
        }
    }

    private func closed(_ session: Int) {
        sessions[session] = nil
        pairing.sessionClosed(session)
        for (token, link) in links where link.sessions.contains(session) { unlink(token) }
    }

    // MARK: - Links

    private func link(token: [UInt8], initiator: BlindRelayPairing.Request, responder: BlindRelayPairing.Request) {
        let ends = [initiator, responder]
        var streams: [UDXStream] = []
        for end in ends {
            guard let stream = try? node.udx.makeStream(id: node.freeStreamID()) else {
                for stream in streams { stream.destroy() }
                pairing.linkClosed()
                return
            }
            // Each relay stream belongs to the end whose first packet reaches it.
            stream.firewall = { [weak stream] socket, address in
                guard let stream else { return true }
                stream.firewall = nil
                try? stream.connect(socket: socket, remoteID: end.streamID, address: address)
                return false
            }
            stream.relayAllowance = { [weak self] bytes in self?.spend(bytes) ?? false }
            streams.append(stream)
        }
        streams[0].relay(to: streams[1])
        streams[1].relay(to: streams[0])
        links[token] = (streams, [initiator.session, responder.session])
        pairsLinked += 1
        for (end, stream) in zip(ends, streams) {
            let answer = BlindRelayPair(isInitiator: end.isInitiator, token: token, id: stream.id)
            sessions[end.session]?.send(
                protocol: BlindRelayProtocol.name, id: sessions[end.session]?.remotePublicKey ?? [],
                type: BlindRelayProtocol.pairMessage, message: answer.compactEncoded())
        }
    }

    private func unlink(_ token: [UInt8]) {
        guard let link = links.removeValue(forKey: token) else { return }
        for stream in link.streams { stream.destroy() }
        pairing.linkClosed()
    }

    /// The shared bandwidth budget: a token bucket refilled at `bytesPerSecond`, holding at most one second's worth.
    private func spend(_ bytes: Int) -> Bool {
        let now = NIODeadline.now()
        let elapsed = Double((now - budgetRefilled).nanoseconds) / 1e9
        budgetRefilled = now
        let rate = Double(limits.bytesPerSecond)
        budget = min(rate, budget + elapsed * rate)
        guard budget >= Double(bytes) else {
            droppedOverBudget += 1
            return false
        }
        budget -= Double(bytes)
        return true
    }
}
