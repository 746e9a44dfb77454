import CompactEncoding
import Logging
import NIOCore
import Sodium

/// Why a connection by public key failed (hyperdht 6.33 `lib/errors.js`).
public enum HyperDHTConnectError: Error, Sendable, Equatable {
    /// No node holds the server's announce.
    case peerNotFound
    /// Nodes hold it, but no handshake through them was answered.
    case peerConnectionFailed
    /// The server speaks another version of the handshake payload.
    case serverIncompatible
    /// The server answered with an error (or without a UDX stream).
    case serverError(UInt64)
    /// Both sides are firewalled and the server offers no way to punch through (no relays to reach it by).
    case cannotHolepunch
    /// The server never reached us although it is the reachable side, the punch found no path in time, or the
    /// connection was given up.
    case holepunchAborted
    /// After the probe rounds one side still could not tell what its NAT does.
    case holepunchProbeTimeout
    /// Both sides are behind NATs that pick a new port per destination: punching cannot work (a relay can).
    case doubleRandomizedNATs
    /// The server answered the punch round without starting to punch.
    case remoteNotHolepunching
    /// The two NATs' kinds fit no punching strategy.
    case remoteNotHolepunchable
    /// The server ended the holepunch rounds with this error (hyperdht's `ERROR`: 1 ABORTED, 3 TRY_LATER).
    case remoteAborted(UInt64)
    /// A holepunch reply that does not open with the connection's secret, or is not a reply from the relay asked.
    case holepunchInvalid
    /// A reply that is not a well-formed answer to our handshake.
    case handshakeInvalid
    /// Punching was not possible and the relay could not pair the two sides (unreachable, closed, or no answer
    /// within 15 s).
    case relayAborted

    /// Failures of hole punching, after which a relay, when there is one, is the way left.
    var isPunchingFailure: Bool {
        switch self {
        case .cannotHolepunch, .holepunchAborted, .holepunchProbeTimeout, .doubleRandomizedNATs,
            .remoteNotHolepunching, .remoteNotHolepunchable, .remoteAborted, .holepunchInvalid:
            true
        default:
            false
        }
    }
}

extension DHTNode {
    /// The socket the node sends from (dht-rpc's `socket`): the client socket while firewalled.
    var socket: UDXSocket? { isFirewalled ? clientSocket : serverSocket }

    /// A UDX stream id not in use on this node (hyperdht draws them at random).
    func freeStreamID() -> UInt32 {
        while true {
            let id = UInt32.random(in: 1...UInt32.max)
            if udx.streamCounters(id: id) == nil { return id }
        }
    }

    /// Starts a HyperDHT server for `keyPair`: announced through the nodes closest to the hash of its public key,
    /// answering handshakes for it (`firewall` may refuse a client; true refuses), and handing each connection to
    /// `onConnection`. The future completes once the first announce is stored somewhere.
    /// `relayThrough`: blind relays (their keys) to offer clients that cannot punch through to us.
    public func listen(
        keyPair: Ed25519.KeyPair, relayThrough: [[UInt8]] = [],
        firewall: @escaping HyperDHTServer.Firewall = { _, _, _ in false },
        logger: Logger = Logger(label: "pearircd.hyperdht"),
        onConnection: @escaping (HyperDHTConnection) -> Void
    ) -> EventLoopFuture<HyperDHTServer> {
        eventLoop.preconditionInEventLoop()
        let server = HyperDHTServer(
            node: self, keyPair: keyPair, relayThrough: relayThrough, firewall: firewall, onConnection: onConnection,
            logger: logger)
        addServer(server)
        server.prepareSpare()
        return server.announce().map { _ in server }.flatMapError { error in
            server.close().flatMapThrowing { throw error }
        }
    }

    /// Connects to the server that announced `publicKey` (hyperdht's `connect`): finds the nodes that hold its
    /// announce (FIND_PEER), sends the Noise IK handshake through them (at most two at once), and connects a UDX
    /// stream to the server when either side can be reached directly; secret-stream then runs over it with the
    /// handshake's keys, the server's key authenticated.
    ///
    /// Where neither side is reachable, both punch through their NATs; when that is impossible (both NATs pick a new
    /// port per destination) or fails, and `relayThrough` names blind relays, the two meet through one of them
    /// (hyperdht's `relayThrough`): the server learns the relay and a pairing token from our handshake.
    /// `holepunch: false` does not punch at all (as hyperdht's `holepunch` hook refusing, without fast open), which
    /// leaves the relay. `localConnection: false` neither offers nor tries local addresses (hyperdht's option of the
    /// name: on one machine the local path would always win).
    public func connect(
        to publicKey: [UInt8], keyPair: Ed25519.KeyPair = Ed25519.randomKeyPair(), relayThrough: [[UInt8]] = [],
        holepunch: Bool = true, localConnection: Bool = true, logger: Logger = Logger(label: "pearircd.hyperdht")
    ) -> EventLoopFuture<HyperDHTConnection> {
        eventLoop.preconditionInEventLoop()
        let attempt = ClientAttempt(
            node: self, publicKey: publicKey, keyPair: keyPair, relayThrough: relayThrough.randomElement(), logger: logger)
        attempt.mayPunch = holepunch
        attempt.local = localConnection
        // Kept alive by its own future until it settles (everything else holds it weakly).
        attempt.promise.futureResult.whenComplete { _ in _ = attempt }
        attempt.start()
        return attempt.promise.futureResult
    }
}

/// One `connect`: the state hyperdht keeps in its connect object.
final class ClientAttempt: @unchecked Sendable {
    let node: DHTNode
    let publicKey: [UInt8]
    let target: [UInt8]
    let logger: Logger
    let promise: EventLoopPromise<HyperDHTConnection>
    private var handshake: NoiseHandshake?
    private var request: [UInt8] = []
    var stream: UDXStream?
    var finished = false
    private var answered = false
    private var inFlight = 0
    private var queued: [IPv4Endpoint] = []
    private var tried: Set<IPv4Endpoint> = []
    private var walkDone = false
    /// Where the server's first packet came from before we knew what to do with it.
    private var early: (UDXSocket, IPv4Endpoint)?
    var onSocket: ((UDXSocket, IPv4Endpoint, HyperDHTConnection.Path) -> Void)?
    private var passiveWait: Scheduled<Void>?
    /// The hole punching, once it started (`HyperDHTClientHolepunch.swift`).
    var puncher: HyperDHTHolepuncher?
    var holepunchRound: UInt64 = 0
    var punchingStarted: NIODeadline?
    /// False: no punching (the caller's choice).
    var mayPunch = true
    /// False: no local addresses offered or tried.
    var local = true
    /// Settled on the relay with punching still going: the stream may yet move to a punched path.
    var upgrading = false
    /// Completes when the relay pairing ends, either way.
    var relaySettled: EventLoopFuture<Void>?
    /// Completed when the settled connection closes (or fails to establish).
    private var connectionClosed: EventLoopPromise<Void>?
    /// The relay both sides can meet through (ours, or the server's when it named one), and how far that got.
    private var relay: (publicKey: [UInt8], token: [UInt8], isInitiator: Bool)?
    private enum RelayState { case unused, pairing, failed }
    private var relayState = RelayState.unused
    /// A relay pairing is under way (and has not failed or been used).
    var isRelayPairing: Bool { relayState == .pairing && !finished }
    /// Completed when another path won while the relay was pairing.
    private lazy var relayNotNeeded = node.eventLoop.makePromise(of: Void.self)
    /// The handshake's outcome and the server's stream id, once answered.
    private var handshakeResult: NoiseHandshake.Result?
    private var serverStreamID: UInt32 = 0

    init(node: DHTNode, publicKey: [UInt8], keyPair: Ed25519.KeyPair, relayThrough: [UInt8]?, logger: Logger) {
        self.node = node
        self.publicKey = publicKey
        relay = relayThrough.map { ($0, RandomBytes.generate(count: 32), true) }
        target = HyperDHTSignatures.mutableTarget(publicKey)
        self.logger = logger
        promise = node.eventLoop.makePromise(of: HyperDHTConnection.self)
        handshake = try? NoiseHandshake(
            pattern: .ik, isInitiator: true, staticKeyPair: keyPair,
            prologue: HyperDHTSignatures.peerHandshakeNamespace, remoteStaticKey: publicKey)
    }

    func start() {
        guard publicKey.count == 32, handshake != nil, let stream = try? node.udx.makeStream(id: node.freeStreamID()) else {
            fail(.handshakeInvalid)
            return
        }
        self.stream = stream
        stream.firewall = { [weak self] socket, address in
            guard let self, let endpoint = IPv4Endpoint(address) else { return true }
            if let onSocket {
                onSocket(socket, endpoint, .direct)
            } else if early == nil {
                early = (socket, endpoint)
            }
            return false
        }
        let ourAddress = node.remoteAddress
        let payload = HyperDHTNoisePayload(
            firewall: (ourAddress != nil ? HyperDHTFirewall.open : .unknown).rawValue,
            addresses4: (ourAddress.map { [$0] } ?? []) + (local ? node.localAddresses : []),
            udx: .init(reusableSocket: false, id: UInt64(stream.id), seq: 0),
            secretStreamVersion: 1,
            relayThrough: relay.map { .init(publicKey: $0.publicKey, token: $0.token) })
        guard let request = try? handshake?.send(payload: payload.compactEncoded()) else {
            fail(.handshakeInvalid)
            return
        }
        self.request = request
        let findPeer = DHTNode.command(.findPeer, target: target)
        node.walk(findPeer) { [weak self] reply in
            guard let self, !finished, !answered, let value = reply.response.value,
                let peer = try? HyperDHTPeer(leniently: value), peer.publicKey == publicKey
            else { return }
            enqueue(reply.from)
        }.whenComplete { [weak self] _ in
            guard let self else { return }
            walkDone = true
            settleIfExhausted()
        }
    }

    private func enqueue(_ holder: IPv4Endpoint) {
        guard tried.insert(holder).inserted else { return }
        queued.append(holder)
        pump()
    }

    /// At most two handshakes at once, as the reference's semaphore.
    private func pump() {
        while inFlight < 2, !answered, !finished, !queued.isEmpty {
            let holder = queued.removeFirst()
            inFlight += 1
            handshake(through: holder)
        }
    }

    private func handshake(through holder: IPv4Endpoint) {
        var request = DHTNode.command(.peerHandshake, target: target)
        request.value = HyperDHTHandshake(mode: HyperDHTRelayMode.fromClient.rawValue, noise: self.request).compactEncoded()
        node.requestWithSource(request, to: holder).whenComplete { [weak self] result in
            guard let self else { return }
            inFlight -= 1
            if case .success(let (response, from)) = result, !answered, !finished {
                received(response, from: from, through: holder)
            }
            pump()
            settleIfExhausted()
        }
    }

    private func received(_ response: DHTResponse, from: IPv4Endpoint, through holder: IPv4Endpoint) {
        guard let value = response.value, let reply = try? HyperDHTHandshake(leniently: value),
            reply.mode == HyperDHTRelayMode.reply.rawValue, from == holder, !reply.noise.isEmpty
        else { return }
        guard var handshake, let plain = try? handshake.receive(reply.noise), let result = handshake.result else {
            return
        }
        answered = true
        self.handshake = nil
        guard let payload = try? HyperDHTNoisePayload(leniently: plain) else {
            fail(.handshakeInvalid)
            return
        }
        guard payload.version == 1 else { return fail(.serverIncompatible) }
        guard payload.error == 0 else { return fail(.serverError(payload.error)) }
        guard let udx = payload.udx else { return fail(.serverError(0)) }
        let relayed = reply.peerAddress != nil
        let serverAddress = reply.peerAddress ?? holder

        handshakeResult = result
        serverStreamID = UInt32(truncatingIfNeeded: udx.id)
        onSocket = { [weak self] socket, address, path in
            self?.connect(socket: socket, to: address, remoteID: UInt32(truncatingIfNeeded: udx.id), result: result, path: path)
        }
        if let theirs = payload.relayThrough {
            // The server named a relay: it is pairing there already; meet it at once (we are not the initiator).
            relay = (theirs.publicKey, theirs.token, false)
            startRelay()
        }
        if let (socket, address) = early {
            onSocket?(socket, address, .direct)
            return
        }
        guard let socket = node.socket else { return fail(.holepunchAborted) }
        if !relayed {
            // The server itself answered: it is where we asked.
            onSocket?(socket, holder, .direct)
            return
        }
        let holepunchable = !(payload.holepunch?.relays.isEmpty ?? true)
        if payload.firewall == HyperDHTFirewall.open.rawValue || !holepunchable {
            let address = payload.addresses4.first { !$0.isBogon } ?? serverAddress
            onSocket?(socket, address, .direct)
            return
        }
        // Behind the same public address (one NAT, or one machine): try the server's local address, alongside
        // punching (since hyperdht 6.33; a blocked local path must not stop a punch that can work).
        let clientAddress = response.to
        if local, clientAddress.address == serverAddress.address {
            let theirs = payload.addresses4.filter { !$0.isReserved }
            if let local = DHTNode.bestLocalMatch(ours: node.localAddresses, theirs: theirs) ?? theirs.first {
                node.ping(local).whenComplete { [weak self] result in
                    guard let self, case .success = result else {
                        if !holepunchable { self?.fail(.holepunchAborted) }
                        return
                    }
                    onSocket?(socket, local, .direct)
                }
                if !holepunchable { return }
            }
        }
        if node.remoteAddress != nil {
            // We are reachable: the server connects to us.
            passiveWait = node.eventLoop.scheduleTask(in: .seconds(10)) { [weak self] in self?.fail(.holepunchAborted) }
            return
        }
        guard let holepunch = payload.holepunch, !holepunch.relays.isEmpty else { return fail(.cannotHolepunch) }
        // Told not to punch: not even a probe (the server's fast-mode answer would punch through).
        guard mayPunch else { return fail(.holepunchAborted) }
        startHolepunch(
            HolepunchSession(
                id: holepunch.id, relays: holepunch.relays, secure: HyperDHTSecurePayload(handshakeHash: result.handshakeHash),
                clientRelay: holder, serverAddress: serverAddress, remoteFirewall: payload.firewall))
    }

    private func connect(
        socket: UDXSocket, to endpoint: IPv4Endpoint, remoteID: UInt32, result: NoiseHandshake.Result,
        path: HyperDHTConnection.Path, relayLink: BlindRelayLink? = nil
    ) {
        guard !finished, let stream, let address = endpoint.socketAddress
        else { return }
        finished = true
        onSocket = nil
        passiveWait?.cancel()
        if relayState != .unused { relayNotNeeded.succeed() }
        let route = HyperDHTRoute(path)
        var punchingSocket: DHTNode.PunchingSocket?
        if let relayLink, let puncher, !puncher.destroyed {
            // Relayed while punching goes on: if a probe gets through later, the stream moves to that path.
            upgrading = true
            puncher.onAbort = nil
            puncher.onConnect = { [weak self] holder, from in
                self?.upgrade(to: holder, at: from, relayLink: relayLink, route: route)
            }
        } else {
            // A punched path keeps its socket for as long as the stream runs on it.
            punchingSocket = puncher?.take(socket)
            puncher?.onAbort = nil
            puncher?.destroy()
        }
        stream.firewall = nil
        let closed = node.eventLoop.makePromise(of: Void.self)
        connectionClosed = closed
        do {
            try stream.connect(socket: socket, remoteID: remoteID, address: address)
        } catch {
            closed.succeed()
            stream.destroy()
            promise.fail(HyperDHTConnectError.holepunchAborted)
            return
        }
        let session = SecretStreamSession(isInitiator: true, handshake: result, expectedRemotePublicKey: publicKey)
        let promise = promise
        let established = SwarmConnection.establish(over: stream, session: session, label: "hyperdht-client", logger: logger)
        established.whenComplete { result in
            guard let connection = try? result.get() else { return closed.succeed() }
            connection.channel.closeFuture.cascade(to: closed)
        }
        // A punched path keeps its socket, and a relayed one its connection to the relay, as long as the connection
        // runs (the attempt too, while it may still move the stream off the relay).
        if let punchingSocket { node.releasePunchingSocket(punchingSocket, inUseUntil: closed.futureResult) }
        if let relayLink {
            closed.futureResult.whenComplete { [self] _ in
                relayLink.close()
                upgrading = false
                puncher?.destroy()
            }
        }
        established.map { HyperDHTConnection(connection: $0, path: path, remoteAddress: endpoint, route: route) }
            .cascade(to: promise)
    }

    /// A probe got through while the stream runs through the relay: the stream moves to the punched path (libudx's
    /// `changeRemote`), an empty message shows the server the new path, and once the server's packets arrive on it
    /// the relay is let go (hyperdht's `confirmDirectUpgrade`).
    private func upgrade(
        to holder: DHTNode.PunchingSocket, at from: IPv4Endpoint, relayLink: BlindRelayLink, route: HyperDHTRoute
    ) {
        upgrading = false
        guard let stream, !stream.isClosed, let address = from.socketAddress, let puncher,
            (try? stream.changeRemote(socket: holder.socket, remoteID: serverStreamID, address: address)) != nil
        else { return }
        let kept = puncher.take(holder.socket)
        puncher.destroy()
        if let kept {
            node.releasePunchingSocket(kept, inUseUntil: connectionClosed?.futureResult ?? node.eventLoop.makeSucceededVoidFuture())
        }
        logger.debug("connect: moving from the relay to the punched path", metadata: ["to": "\(from)"])
        stream.onPacket = { [weak stream] socket, _ in
            guard socket === holder.socket else { return }
            stream?.onPacket = nil
            route.path = .punched
            relayLink.close()
        }
        try? stream.send(message: [])
    }

    private func settleIfExhausted() {
        guard walkDone, inFlight == 0, queued.isEmpty, !answered, !finished else { return }
        fail(tried.isEmpty ? .peerNotFound : .peerConnectionFailed)
    }

    /// Pairs at the relay; the stream then runs through it, and the first path that connects wins.
    private func startRelay() {
        guard let relay, relayState == .unused, let stream, handshakeResult != nil else { return }
        relayState = .pairing
        let pairing = node.pairThroughRelay(
            relay.publicKey, isInitiator: relay.isInitiator, token: relay.token, streamID: stream.id, logger: logger,
            cancelled: relayNotNeeded.futureResult)
        pairing.whenComplete { [weak self] outcome in
            guard let self else { return }
            switch outcome {
            case .success(let link):
                guard !finished, let result = handshakeResult else { return link.close() }
                connect(socket: link.socket, to: link.endpoint, remoteID: link.remoteID, result: result, path: .relayed, relayLink: link)
            case .failure:
                relayState = .failed
                // Punching still under way may yet connect; otherwise this is the end.
                if puncher.map({ $0.destroyed }) ?? true { fail(.relayAborted) }
            }
        }
        relaySettled = pairing.map { _ in }.recover { _ in }
    }

    func fail(_ error: HyperDHTConnectError) {
        guard !finished else { return }
        if error.isPunchingFailure, relay != nil, relayState != .failed {
            // Punching is over; the relay is the way left (it may already be pairing).
            logger.debug("connect: punching failed, relaying", metadata: ["error": "\(error)"])
            puncher?.onAbort = nil
            puncher?.destroy()
            startRelay()
            return
        }
        finished = true
        onSocket = nil
        passiveWait?.cancel()
        puncher?.onAbort = nil
        puncher?.destroy()
        stream?.destroy()
        if relayState != .unused { relayNotNeeded.succeed() }
        promise.fail(error)
    }
}
