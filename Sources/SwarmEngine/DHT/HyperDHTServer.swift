import CompactEncoding
import Logging
import NIOCore
import Sodium
import Synchronization

/// A connection made by public key over HyperDHT: secret-stream and protomux over a UDX stream, keyed by the Noise IK
/// handshake that the DHT carried, and how it was made.
public struct HyperDHTConnection: Sendable {
    public enum Path: String, Sendable {
        /// Straight to an address the other side could be reached at.
        case direct
        /// Through both NATs after hole punching.
        case punched
        /// Through a relay.
        case relayed
    }

    public let connection: SwarmConnection
    /// How the stream runs now: a relayed connection moves to the punched path when punching succeeds later.
    public var path: Path { route.path }
    /// The path the connection was made on.
    public let firstPath: Path
    /// Where the other side's UDX stream was when the connection was made (the relay's address when relayed).
    public let remoteAddress: IPv4Endpoint
    let route: HyperDHTRoute

    init(connection: SwarmConnection, path: Path, remoteAddress: IPv4Endpoint, route: HyperDHTRoute? = nil) {
        self.connection = connection
        self.remoteAddress = remoteAddress
        firstPath = path
        self.route = route ?? HyperDHTRoute(path)
    }
}

/// The path a connection's stream runs on, shared between the connection and what moves it.
final class HyperDHTRoute: Sendable {
    private let current: Mutex<HyperDHTConnection.Path>
    init(_ path: HyperDHTConnection.Path) { current = Mutex(path) }
    var path: HyperDHTConnection.Path {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// A HyperDHT server on a `DHTNode` (hyperdht 6.33 `lib/server.js`, with `lib/announcer.js`): it announces its public
/// key at the hash of the key on the closest nodes, so that they route handshakes to it, and answers each handshake
/// (Noise IK under the `PEER_HANDSHAKE` prologue) with its Noise payload: version, firewall, addresses, the UDX stream
/// it made for the client and secret-stream. A firewall hook may refuse a key before anything is sent back. A
/// handshake repeated (the client's retries, or the same message through another node) gets the same answer.
///
/// When the client is reachable (it says OPEN, or it asked us directly) the server connects at once. Otherwise,
/// unless the server itself is reachable, it makes a puncher (`HyperDHTHolepuncher`) for the attempt and answers the
/// client's holepunch rounds (`lib/server.js` `_onpeerholepunch`): it learns the client's NAT, hands out a token for
/// the client's address and verifies its echo, and punches when the client does. The stream connects to wherever
/// the client's first UDX packet comes from (on the punching socket when punched), or is dropped after 10 s.
///
/// Runs on the node's event loop.
public final class HyperDHTServer: @unchecked Sendable {
    /// True refuses the client: `remotePublicKey` as the handshake proved it, its payload and its address.
    public typealias Firewall = (
        _ remotePublicKey: [UInt8], _ payload: HyperDHTNoisePayload, _ clientAddress: IPv4Endpoint
    ) -> Bool

    /// How long an answered handshake is remembered (so retries get the same answer), and how long a server waits
    /// for a client it cannot reach to reach it (the reference's `HANDSHAKE_CLEAR_WAIT` and
    /// `HANDSHAKE_INITIAL_TIMEOUT`).
    public static let clearWait = TimeAmount.seconds(10)
    public static let initialTimeout = TimeAmount.seconds(10)
    /// At most this many handshakes remembered at once; more are refused (a flood of distinct handshakes cannot make
    /// the server hold unbounded state).
    public static let maximumAttempts = 1024

    public let keyPair: Ed25519.KeyPair
    /// Blind relays (their keys) this server offers its clients to meet through when punching is not possible.
    public let relayThrough: [[UInt8]]
    /// Where it is announced: BLAKE2b-256 of its public key.
    public let target: [UInt8]
    /// The nodes it announced through (relay address) and where each saw it (peer address): what a client's
    /// holepunch rounds go through.
    public private(set) var relays: [(relayAddress: IPv4Endpoint, peerAddress: IPv4Endpoint)] = []
    public private(set) var isClosed = false
    /// Handshakes answered and refused so far.
    public private(set) var answered = 0
    public private(set) var refused = 0

    weak var node: DHTNode?
    let eventLoop: any EventLoop
    private let firewall: Firewall
    private let onConnection: (HyperDHTConnection) -> Void
    private let logger: Logger
    private var attempts: [[UInt8]: Attempt] = [:]
    /// The same attempts by holepunch session id.
    private var sessions: [UInt64: Attempt] = [:]
    private var nextSession: UInt64 = 0
    /// A punching socket bound ahead for the next handshake that will punch.
    private var spare: DHTNode.PunchingSocket?
    private var bindingSpare = false
    private var watching: RepeatedTask?
    private var pingRounds = 0
    private var announcing: [(relayAddress: IPv4Endpoint, peerAddress: IPv4Endpoint)] = []
    /// How often the relays are pinged (the reference's 3 s; tests shorten it).
    var relayPingInterval = TimeAmount.seconds(3)
    /// Called after each announce round (for tests).
    var onAnnounced: ((HyperDHTServer) -> Void)?
    /// How many announce rounds have finished.
    public private(set) var announcements = 0

    private final class Attempt: @unchecked Sendable {
        let noise: [UInt8]
        var clearing = false
        init(noise: [UInt8]) { self.noise = noise }
        /// Its holepunch session id (what the client's PEER_HOLEPUNCH rounds name).
        var id: UInt64 = 0
        var reply: [UInt8]?
        var stream: UDXStream?
        var result: NoiseHandshake.Result?
        var remoteStreamID: UInt32 = 0
        var connected = false
        var waiting: Scheduled<Void>?
        /// Hole punching: the rounds' secret, the puncher (once its socket is bound), the last round seen.
        var secure: HyperDHTSecurePayload?
        var puncherReady: EventLoopFuture<HyperDHTHolepuncher>?
        var puncher: HyperDHTHolepuncher?
        var round: UInt64 = 0
        /// The relay the two sides may meet through (ours or the client's), while pairing there; completed when
        /// another path won first.
        var relay: (publicKey: [UInt8], token: [UInt8], isInitiator: Bool)?
        var relayPairing: EventLoopFuture<BlindRelayLink>?
        var relayNotNeeded: EventLoopPromise<Void>?
        /// Connected through the relay while punching goes on.
        var upgrading = false

        /// Ends the attempt's punching; the stream and the relay pairing too unless it connected.
        func abandon() {
            waiting?.cancel()
            puncher?.onAbort = nil
            puncher?.destroy()
            relayNotNeeded?.succeed()
            if !connected { stream?.destroy() }
        }
    }

    init(
        node: DHTNode, keyPair: Ed25519.KeyPair, relayThrough: [[UInt8]] = [], firewall: @escaping Firewall,
        onConnection: @escaping (HyperDHTConnection) -> Void, logger: Logger
    ) {
        self.node = node
        eventLoop = node.eventLoop
        self.keyPair = keyPair
        self.relayThrough = relayThrough
        target = HyperDHTSignatures.mutableTarget(keyPair.publicKey)
        self.firewall = firewall
        self.onConnection = onConnection
        self.logger = logger
    }

    // MARK: - Announcing

    /// Walks toward the target (FIND_PEER) and announces on the three closest nodes that answered (`pickBest`),
    /// with an empty relay list as the reference signs it; those nodes become the relays. Then, as the reference's
    /// announcer, it pings the relays every `relayPingInterval` (3 s) and announces afresh when fewer than three of
    /// them (or fewer than all, when there are fewer) answer, or after 100 rounds (about five minutes).
    func announce() -> EventLoopFuture<Int> {
        guard let node, !isClosed else { return eventLoop.makeFailedFuture(DHTNode.Failure.notStarted) }
        watching?.cancel()
        watching = nil
        announcing = []
        return node.signedCommit(
            target, keyPair: keyPair, peer: HyperDHTPeer(publicKey: keyPair.publicKey), unannounce: false,
            walkingWith: .findPeer, limit: 3
        ) { [weak self] reply in
            // The node that stored it, and where it saw us.
            guard let self, !announcing.contains(where: { $0.relayAddress == reply.from }) else { return }
            announcing.append((reply.from, reply.response.to))
        }.always { [weak self] _ in
            guard let self, !isClosed else { return }
            announcements += 1
            relays = announcing
            onAnnounced?(self)
            watchRelays()
        }
    }

    private func watchRelays() {
        pingRounds = 0
        let loop = eventLoop
        watching = eventLoop.scheduleRepeatedAsyncTask(initialDelay: relayPingInterval, delay: relayPingInterval) {
            [weak self] task in
            guard let self, let node, !isClosed else {
                task.cancel()
                return loop.makeSucceededVoidFuture()
            }
            pingRounds += 1
            let pings = relays.map { node.ping($0.relayAddress) }
            return EventLoopFuture.whenAllComplete(pings, on: eventLoop).map { [weak self] results in
                guard let self, !isClosed else { return }
                let active = results.filter { if case .success = $0 { true } else { false } }.count
                if active < min(pings.count, 3) || pings.isEmpty || pingRounds >= 100 {
                    task.cancel()
                    _ = announce()
                }
            }
        }
    }

    /// Stops answering and withdraws the announce.
    public func close() -> EventLoopFuture<Void> {
        guard let node, !isClosed else { return eventLoop.makeSucceededVoidFuture() }
        isClosed = true
        watching?.cancel()
        node.removeServer(self)
        for attempt in attempts.values { attempt.abandon() }
        if let spare { node.releasePunchingSocket(spare) }
        spare = nil
        attempts.removeAll()
        sessions.removeAll()
        return node.unannounce(target, keyPair: keyPair).map { _ in }.recover { _ in }
    }

    // MARK: - Handshakes

    /// The Noise reply to a client's first IK message, or nil when there is none to give (undecryptable, refused,
    /// closed, too many under way). `peerAddress` is the client as a relay saw it (nil: the client asked us
    /// directly, from `from`, on `socket`).
    func handshake(
        _ noise: [UInt8], peerAddress: IPv4Endpoint?, from: IPv4Endpoint, socket: UDXSocket
    ) -> (noise: [UInt8], socket: UDXSocket?)? {
        guard !isClosed, let node else { return nil }
        if let attempt = attempts[noise] { return attempt.reply.map { ($0, attempt.puncher?.socket?.socket) } }
        guard attempts.count < Self.maximumAttempts else { return nil }
        let clientAddress = peerAddress ?? from
        let direct = peerAddress == nil

        var handshake: NoiseHandshake
        let remotePayload: HyperDHTNoisePayload
        do {
            handshake = try NoiseHandshake(
                pattern: .ik, isInitiator: false, staticKeyPair: keyPair,
                prologue: HyperDHTSignatures.peerHandshakeNamespace)
            remotePayload = try HyperDHTNoisePayload(leniently: try handshake.receive(noise))
        } catch {
            // Not for us, or forged: nothing is kept.
            return nil
        }
        let attempt = Attempt(noise: noise)
        attempts[noise] = attempt
        attempt.id = nextSession
        nextSession += 1
        sessions[attempt.id] = attempt
        guard let remoteKey = handshake.remoteStaticKey, !firewall(remoteKey, remotePayload, clientAddress) else {
            refused += 1
            clearLater(attempt)
            return nil
        }

        let error: UInt64 = remotePayload.version != 1 ? 2 : remotePayload.udx == nil ? 1 : 0
        let ourAddress = node.remoteAddress
        if error == 0, let remoteUDX = remotePayload.udx, let stream = try? node.udx.makeStream(id: node.freeStreamID()) {
            attempt.stream = stream
            attempt.remoteStreamID = UInt32(truncatingIfNeeded: remoteUDX.id)
            // The client's first packet tells us where it is (it connected to us, or punched through to our
            // punching socket).
            stream.firewall = { [weak self, weak attempt] socket, address in
                guard let self, let attempt, let endpoint = IPv4Endpoint(address) else { return true }
                let punched = attempt.puncher?.socket?.socket === socket
                connect(attempt, socket: socket, to: endpoint, path: punched ? .punched : .direct)
                return false
            }
        }
        // The client's relay when it named one (it pairs when punching fails, and we wait there for it); else our
        // own, named to the client with a fresh token, which it pairs at at once (as the reference does).
        let ourRelay = remotePayload.relayThrough != nil
            ? nil : relayThrough.randomElement().map { (publicKey: $0, token: RandomBytes.generate(count: 32)) }
        if let theirs = remotePayload.relayThrough {
            attempt.relay = (theirs.publicKey, theirs.token, false)
        } else if let ourRelay {
            attempt.relay = (ourRelay.publicKey, ourRelay.token, true)
        }
        let payload = HyperDHTNoisePayload(
            error: error, firewall: (ourAddress != nil ? HyperDHTFirewall.open : .unknown).rawValue,
            holepunch: ourAddress != nil ? nil : .init(id: attempt.id, relays: relays),
            addresses4: (ourAddress.map { [$0] } ?? []) + node.localAddresses,
            udx: .init(reusableSocket: false, id: UInt64(attempt.stream?.id ?? 0), seq: 0), secretStreamVersion: 1,
            relayThrough: ourRelay.map { .init(publicKey: $0.publicKey, token: $0.token) },
            relayAddresses: relays.isEmpty ? nil : Array(relays.map(\.relayAddress).prefix(3)))
        guard let reply = try? handshake.send(payload: payload.compactEncoded()), let result = handshake.result else {
            end(attempt)
            return nil
        }
        attempt.reply = reply
        attempt.result = result
        answered += 1
        guard error == 0, attempt.stream != nil else {
            end(attempt)
            attempt.stream = nil
            return (reply, nil)
        }
        if remotePayload.firewall == HyperDHTFirewall.open.rawValue || direct {
            connect(attempt, socket: direct ? socket : node.socket ?? socket, to: clientAddress, path: .direct)
            return (reply, nil)
        }
        // The client connects to us if it can; if both are firewalled, it starts holepunch rounds within the wait.
        attempt.waiting = node.eventLoop.scheduleTask(in: Self.initialTimeout) { [weak self, weak attempt] in
            guard let self, let attempt else { return }
            end(attempt)
        }
        if attempt.relay != nil { startRelay(attempt, node: node) }
        guard ourAddress == nil else { return (reply, nil) }
        attempt.secure = HyperDHTSecurePayload(handshakeHash: result.handshakeHash)
        let remoteFirewall = HyperDHTFirewall(rawValue: remotePayload.firewall) ?? .unknown
        let adopt = { [weak self, weak attempt] (puncher: HyperDHTHolepuncher) -> HyperDHTHolepuncher in
            guard let self, let attempt, !attempt.connected, attempt.stream != nil else {
                puncher.destroy()
                return puncher
            }
            attempt.puncher = puncher
            puncher.onAbort = { [weak self, weak attempt] in
                guard let self, let attempt else { return }
                end(attempt)
            }
            return puncher
        }
        guard let socket = spare else {
            // None bound ahead (a burst of handshakes): the reply goes from the node's socket, and the client's
            // first short-lived probe aims at that one instead.
            attempt.puncherReady = HyperDHTHolepuncher.start(
                node: node, isInitiator: false, remoteFirewall: remoteFirewall, logger: logger
            ).map(adopt)
            return (reply, nil)
        }
        spare = nil
        prepareSpare()
        let puncher = adopt(
            HyperDHTHolepuncher.start(
                node: node, isInitiator: false, remoteFirewall: remoteFirewall, logger: logger, socket: socket))
        attempt.puncherReady = eventLoop.makeSucceededFuture(puncher)
        return (reply, socket.socket)
    }

    /// Binds the punching socket the next handshake that needs one takes (as the reference, which binds one at
    /// once: the handshake's reply goes from it, so the relay reports to the client the address we punch from).
    func prepareSpare() {
        guard spare == nil, !bindingSpare, !isClosed, let node, node.remoteAddress == nil else { return }
        bindingSpare = true
        node.bindPunchingSocket().whenComplete { [weak self, weak node] result in
            self?.bindingSpare = false
            guard case .success(let socket) = result else { return }
            guard let self, !isClosed else {
                node?.releasePunchingSocket(socket)
                return
            }
            spare = socket
        }
    }

    /// What to answer a holepunch round with, and the socket to send it from (the punching socket, so that the
    /// relay sees and reports the address we punch from).
    struct HolepunchAnswer {
        var payload: [UInt8]
        var socket: UDXSocket?
    }

    /// A holepunch round for one of our handshakes (`_onpeerholepunch`; the router's server branch: FROM_RELAY,
    /// naming the client). `relay` is the node that passed it on: only our own announce relays get a token for the
    /// client's address, and only their echoes verify it. Nil for an unknown session, a payload that does not open,
    /// or a round the attempt no longer waits for; an ABORTED answer when punching is not possible.
    func holepunch(_ round: HyperDHTHolepunch, relay: IPv4Endpoint, on socket: UDXSocket, to: IPv4Endpoint) -> EventLoopFuture<HolepunchAnswer?> {
        let loop = eventLoop
        guard !isClosed, round.mode == HyperDHTRelayMode.fromRelay.rawValue, let clientAddress = round.peerAddress,
            let attempt = sessions[round.id]
        else { return loop.makeSucceededFuture(nil) }
        guard let secure = attempt.secure, let puncherReady = attempt.puncherReady else {
            // We are reachable, or the stream is gone: nothing to punch with.
            return loop.makeSucceededFuture(abortAnswer(attempt, round: 0))
        }
        guard let remote = secure.decrypt(round.payload) else { return loop.makeSucceededFuture(nil) }
        return puncherReady.flatMap { [self] puncher -> EventLoopFuture<HolepunchAnswer?> in
            guard !puncher.destroyed, !attempt.connected || attempt.upgrading else {
                return loop.makeSucceededFuture(abortAnswer(attempt, round: remote.round))
            }
            let isServerRelay = relays.contains { $0.relayAddress == relay }
            guard remote.error == 0 else {
                attempt.round = max(attempt.round, remote.round)
                return loop.makeSucceededFuture(abortAnswer(attempt, round: attempt.round))
            }
            let token = secure.token(for: clientAddress)
            let echoed = isServerRelay && remote.remoteToken == token
            if puncher.socket?.socket === socket { puncher.addSample(observed: to, from: relay) }
            if remote.round >= attempt.round {
                attempt.round = remote.round
                puncher.updateRemote(
                    punching: remote.punching, firewall: remote.firewall, addresses: remote.addresses,
                    verified: echoed ? clientAddress.address : nil)
            }
            return puncher.analyze(allowReopen: false).flatMap { stable -> EventLoopFuture<Bool> in
                guard !stable, !puncher.remoteHolepunching else { return loop.makeSucceededFuture(true) }
                return puncher.analyze(allowReopen: true)
            }.flatMap { [self] stable -> EventLoopFuture<HolepunchAnswer?> in
                guard !puncher.destroyed else { return loop.makeSucceededFuture(nil) }
                guard stable else { return loop.makeSucceededFuture(abortAnswer(attempt, round: attempt.round)) }
                // Fast mode: the client opened its NAT toward the address we report, so a probe now may already
                // get through.
                if HyperDHTHolepuncher.coerced(puncher.nat.firewall) == .consistent, let opened = remote.remoteAddress,
                    puncher.nat.addresses?.contains(opened) == true
                {
                    puncher.ping(clientAddress)
                }
                guard puncher.remoteHolepunching else { return loop.makeSucceededFuture(answer(attempt, puncher, remote, token: isServerRelay ? token : nil)) }
                attempt.waiting?.cancel()
                let isRandom = puncher.remoteFirewall == .random || puncher.nat.firewall == .random
                if isRandom, let node, !node.mayPunchRandomly {
                    // No relay to wait through (the reference answers TRY_LATER only to a client with a relay token).
                    return loop.makeSucceededFuture(abortAnswer(attempt, round: attempt.round))
                }
                return puncher.punch().map { [self] started in
                    guard !puncher.destroyed else { return nil }
                    guard started else { return abortAnswer(attempt, round: attempt.round) }
                    return answer(attempt, puncher, remote, token: isServerRelay ? token : nil)
                }
            }
        }
    }

    /// Our side of a round: our NAT (frozen once known, as we now tell the client), our addresses, a token for the
    /// client's address and the echo of the client's token.
    private func answer(
        _ attempt: Attempt, _ puncher: HyperDHTHolepuncher, _ remote: HyperDHTHolepunchPayload, token: [UInt8]?
    ) -> HolepunchAnswer? {
        guard let secure = attempt.secure else { return nil }
        if puncher.nat.firewall != .unknown { puncher.freeze() }
        let payload = HyperDHTHolepunchPayload(
            firewall: puncher.nat.firewall.rawValue, round: attempt.round, connected: puncher.connected,
            punching: puncher.punching, addresses: puncher.nat.addresses, token: token, remoteToken: remote.token)
        return HolepunchAnswer(payload: secure.encrypt(payload), socket: puncher.socket?.socket)
    }

    /// `_abort`: error ABORTED sealed with the session's secret, from the node's own socket; the punching ends.
    private func abortAnswer(_ attempt: Attempt, round: UInt64, line: UInt = #line) -> HolepunchAnswer? {
        logger.debug("holepunch: server aborts", metadata: ["session": "\(attempt.id)", "at": "\(line)"])
        attempt.puncher?.onAbort = nil
        attempt.puncher?.destroy()
        guard let secure = attempt.secure ?? attempt.result.map({ HyperDHTSecurePayload(handshakeHash: $0.handshakeHash) })
        else { return nil }
        let abort = HyperDHTHolepunchPayload(
            error: 1, firewall: HyperDHTFirewall.unknown.rawValue, round: round, connected: false, punching: false)
        return HolepunchAnswer(payload: secure.encrypt(abort), socket: nil)
    }

    private func connect(
        _ attempt: Attempt, socket: UDXSocket, to endpoint: IPv4Endpoint, path: HyperDHTConnection.Path,
        relayLink: BlindRelayLink? = nil
    ) {
        guard !attempt.connected, let stream = attempt.stream, let result = attempt.result,
            let address = endpoint.socketAddress
        else { return }
        attempt.connected = true
        attempt.waiting?.cancel()
        attempt.relayNotNeeded?.succeed()
        stream.firewall = nil
        let route = HyperDHTRoute(path)
        var punchingSocket: DHTNode.PunchingSocket?
        let closed = eventLoop.makePromise(of: Void.self)
        if let relayLink, let puncher = attempt.puncher, !puncher.destroyed {
            // Relayed while punching goes on: the client's first packet on our punching socket moves the stream.
            attempt.upgrading = true
            puncher.onAbort = nil
        } else {
            clearLater(attempt)
            // The punching is over; a punched stream keeps the punching socket it runs on until it closes.
            punchingSocket = attempt.puncher?.take(socket)
            attempt.puncher?.onAbort = nil
            attempt.puncher?.destroy()
        }
        do {
            try stream.connect(socket: socket, remoteID: relayLink?.remoteID ?? attempt.remoteStreamID, address: address)
        } catch {
            logger.debug("hyperdht server: could not connect the stream", metadata: ["error": "\(error)"])
            closed.succeed()
            stream.destroy()
            return
        }
        if let relayLink, attempt.upgrading {
            stream.firewall = { [weak self, weak attempt, weak stream] socket, address in
                guard let self, let attempt, let stream else { return false }
                // What the relay still carries after the move is the same stream's.
                guard socket !== relayLink.socket, attempt.upgrading, let puncher = attempt.puncher,
                    let kept = puncher.take(socket)
                else { return false }
                upgrade(attempt, stream: stream, to: kept, at: address, relayLink: relayLink, route: route, closed: closed.futureResult)
                return false
            }
        }
        let session = SecretStreamSession(isInitiator: false, handshake: result)
        let onConnection = onConnection
        let established = SwarmConnection.establish(over: stream, session: session, label: "hyperdht-server", logger: logger)
        if let punchingSocket { node?.releasePunchingSocket(punchingSocket, inUseUntil: closed.futureResult) }
        established.whenComplete { [weak self] result in
            guard let connection = try? result.get() else {
                closed.succeed()
                relayLink?.close()
                return
            }
            connection.channel.closeFuture.cascade(to: closed)
            connection.channel.closeFuture.whenComplete { _ in
                relayLink?.close()
                guard let self, attempt.upgrading else { return }
                attempt.upgrading = false
                attempt.puncher?.destroy()
                self.clearLater(attempt)
            }
        }
        established.whenSuccess { connection in
            onConnection(HyperDHTConnection(connection: connection, path: path, remoteAddress: endpoint, route: route))
        }
    }

    /// The client's packets arrive on our punching socket while the stream runs through the relay: the stream moves
    /// there (libudx's `changeRemote`), the relay is let go, and the punching socket stays as long as the stream.
    private func upgrade(
        _ attempt: Attempt, stream: UDXStream, to kept: DHTNode.PunchingSocket, at address: SocketAddress,
        relayLink: BlindRelayLink, route: HyperDHTRoute, closed: EventLoopFuture<Void>
    ) {
        attempt.upgrading = false
        attempt.puncher?.destroy()
        clearLater(attempt)
        node?.releasePunchingSocket(kept, inUseUntil: closed)
        guard (try? stream.changeRemote(socket: kept.socket, remoteID: attempt.remoteStreamID, address: address)) != nil
        else { return }
        logger.debug("hyperdht server: moved from the relay to the punched path", metadata: ["to": "\(address)"])
        route.path = .punched
        relayLink.close()
        // An empty message shows the client the path works both ways (it lets its relay go when it arrives).
        try? stream.send(message: [])
    }

    /// The attempt is over without a connection: its punching and stream end, and it is forgotten after the wait.
    /// While its relay is still pairing, only the punching ends: the relay has the last word.
    private func end(_ attempt: Attempt) {
        if attempt.relayPairing != nil, !attempt.connected, attempt.stream != nil {
            attempt.waiting?.cancel()
            attempt.puncher?.onAbort = nil
            attempt.puncher?.destroy()
            return
        }
        attempt.abandon()
        clearLater(attempt)
    }

    /// How long our side of a pairing waits at the relay: the client pairs as soon as punching fails, which with a
    /// randomising NAT may take its full 35 s (the reference waits 15 s, pairing at once on both sides).
    static let relayPairingTimeout = TimeAmount.seconds(45)

    /// Pairs at the relay (hyperdht's `_relayConnection`); the stream runs through it unless another path wins.
    private func startRelay(_ attempt: Attempt, node: DHTNode) {
        guard let relay = attempt.relay, let stream = attempt.stream, attempt.relayPairing == nil else { return }
        let notNeeded = eventLoop.makePromise(of: Void.self)
        attempt.relayNotNeeded = notNeeded
        let pairing = node.pairThroughRelay(
            relay.publicKey, isInitiator: relay.isInitiator, token: relay.token, streamID: stream.id, logger: logger,
            timeout: Self.relayPairingTimeout, cancelled: notNeeded.futureResult)
        attempt.relayPairing = pairing
        pairing.whenComplete { [weak self, weak attempt] outcome in
            guard let self, let attempt else { return }
            attempt.relayPairing = nil
            switch outcome {
            case .success(let link):
                guard !attempt.connected, attempt.stream != nil else { return link.close() }
                connect(attempt, socket: link.socket, to: link.endpoint, path: .relayed, relayLink: link)
            case .failure:
                if !attempt.connected { end(attempt) }
            }
        }
    }

    /// Forgets an attempt that is over after `clearWait` (a handshake repeated meanwhile gets the same answer).
    private func clearLater(_ attempt: Attempt) {
        guard !attempt.clearing else { return }
        attempt.clearing = true
        eventLoop.scheduleTask(in: Self.clearWait) { [weak self] in
            guard let self, attempts[attempt.noise] === attempt else { return }
            attempts[attempt.noise] = nil
            sessions[attempt.id] = nil
            attempt.abandon()
        }
    }
}
