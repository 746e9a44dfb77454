import CompactEncoding
import Logging
import NIOCore
import Sodium

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
    public let path: Path
    /// Where the other side's UDX stream is.
    public let remoteAddress: IPv4Endpoint
}

/// A HyperDHT server on a `DHTNode` (hyperdht 6.33 `lib/server.js`, with `lib/announcer.js`): it announces its public
/// key at the hash of the key on the closest nodes, so that they route handshakes to it, and answers each handshake
/// (Noise IK under the `PEER_HANDSHAKE` prologue) with its Noise payload: version, firewall, addresses, the UDX stream
/// it made for the client and secret-stream. A firewall hook may refuse a key before anything is sent back. A
/// handshake repeated (the client's retries, or the same message through another node) gets the same answer.
///
/// When the client is reachable (it says OPEN, or it asked us directly) the server connects at once; otherwise its
/// stream waits up to 10 s for the client's first packet (the client connects to a reachable server). Hole punching
/// and relaying for two firewalled sides are not built yet (issue 17): such a handshake is answered, then abandoned.
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
    private var watching: RepeatedTask?
    private var pingRounds = 0
    private var announcing: [(relayAddress: IPv4Endpoint, peerAddress: IPv4Endpoint)] = []
    /// How often the relays are pinged (the reference's 3 s; tests shorten it).
    var relayPingInterval = TimeAmount.seconds(3)
    /// Called after each announce round (for tests).
    var onAnnounced: ((HyperDHTServer) -> Void)?
    /// How many announce rounds have finished.
    public private(set) var announcements = 0

    private final class Attempt {
        /// Its holepunch session id (what the client's PEER_HOLEPUNCH rounds name).
        var id: UInt64 = 0
        var reply: [UInt8]?
        var stream: UDXStream?
        var result: NoiseHandshake.Result?
        var remoteStreamID: UInt32 = 0
        var connected = false
        var waiting: Scheduled<Void>?
    }

    init(
        node: DHTNode, keyPair: Ed25519.KeyPair, firewall: @escaping Firewall,
        onConnection: @escaping (HyperDHTConnection) -> Void, logger: Logger
    ) {
        self.node = node
        eventLoop = node.eventLoop
        self.keyPair = keyPair
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
        for attempt in attempts.values {
            attempt.waiting?.cancel()
            if !attempt.connected { attempt.stream?.destroy() }
        }
        attempts.removeAll()
        sessions.removeAll()
        return node.unannounce(target, keyPair: keyPair).map { _ in }.recover { _ in }
    }

    // MARK: - Handshakes

    /// The Noise reply to a client's first IK message, or nil when there is none to give (undecryptable, refused,
    /// closed, too many under way). `peerAddress` is the client as a relay saw it (nil: the client asked us
    /// directly, from `from`, on `socket`).
    func handshake(_ noise: [UInt8], peerAddress: IPv4Endpoint?, from: IPv4Endpoint, socket: UDXSocket) -> [UInt8]? {
        guard !isClosed, let node else { return nil }
        if let attempt = attempts[noise] { return attempt.reply }
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
        let attempt = Attempt()
        attempts[noise] = attempt
        attempt.id = nextSession
        nextSession += 1
        sessions[attempt.id] = attempt
        clearLater(noise)
        guard let remoteKey = handshake.remoteStaticKey, !firewall(remoteKey, remotePayload, clientAddress) else {
            refused += 1
            return nil
        }

        let error: UInt64 = remotePayload.version != 1 ? 2 : remotePayload.udx == nil ? 1 : 0
        let ourAddress = node.remoteAddress
        if error == 0, let remoteUDX = remotePayload.udx, let stream = try? node.udx.makeStream(id: node.freeStreamID()) {
            attempt.stream = stream
            attempt.remoteStreamID = UInt32(truncatingIfNeeded: remoteUDX.id)
            // The client's first packet tells us where it is (it connected to us).
            stream.firewall = { [weak self, weak attempt] socket, address in
                guard let self, let attempt, let endpoint = IPv4Endpoint(address) else { return true }
                connect(attempt, socket: socket, to: endpoint)
                return false
            }
        }
        let payload = HyperDHTNoisePayload(
            error: error, firewall: (ourAddress != nil ? HyperDHTFirewall.open : .unknown).rawValue,
            holepunch: ourAddress != nil ? nil : .init(id: attempt.id, relays: relays),
            addresses4: ourAddress.map { [$0] } ?? [],
            udx: .init(reusableSocket: false, id: UInt64(attempt.stream?.id ?? 0), seq: 0), secretStreamVersion: 1,
            relayAddresses: relays.isEmpty ? nil : Array(relays.map(\.relayAddress).prefix(3)))
        guard let reply = try? handshake.send(payload: payload.compactEncoded()), let result = handshake.result else {
            attempt.stream?.destroy()
            return nil
        }
        attempt.reply = reply
        attempt.result = result
        answered += 1
        guard error == 0, attempt.stream != nil else {
            attempt.stream?.destroy()
            attempt.stream = nil
            return reply
        }
        if remotePayload.firewall == HyperDHTFirewall.open.rawValue || direct {
            connect(attempt, socket: direct ? socket : node.socket ?? socket, to: clientAddress)
        } else {
            // The client connects to us if it can; else (both firewalled) punching would be needed.
            attempt.waiting = node.eventLoop.scheduleTask(in: Self.initialTimeout) { [weak attempt] in
                guard let attempt, !attempt.connected else { return }
                attempt.stream?.destroy()
            }
        }
        return reply
    }

    /// A holepunch round for one of our handshakes (router.js's server branch: FROM_RELAY, naming the client). Hole
    /// punching is not built yet, so the answer is the reference's abort (`_abort`: error ABORTED, sealed with the
    /// session's holepunch secret), and the client gives up at once instead of timing out. Nil for an unknown
    /// session or a payload that does not open.
    func holepunch(_ round: HyperDHTHolepunch) -> [UInt8]? {
        guard !isClosed, round.mode == HyperDHTRelayMode.fromRelay.rawValue, round.peerAddress != nil,
            let attempt = sessions[round.id], let result = attempt.result
        else { return nil }
        let secure = HyperDHTSecurePayload(handshakeHash: result.handshakeHash)
        guard let remote = secure.decrypt(round.payload) else { return nil }
        if !attempt.connected {
            attempt.waiting?.cancel()
            attempt.stream?.destroy()
        }
        let abort = HyperDHTHolepunchPayload(
            error: 1, firewall: HyperDHTFirewall.unknown.rawValue, round: remote.round, connected: false, punching: false)
        return secure.encrypt(abort)
    }

    private func connect(_ attempt: Attempt, socket: UDXSocket, to endpoint: IPv4Endpoint) {
        guard !attempt.connected, let stream = attempt.stream, let result = attempt.result,
            let address = endpoint.socketAddress
        else { return }
        attempt.connected = true
        attempt.waiting?.cancel()
        stream.firewall = nil
        do {
            try stream.connect(socket: socket, remoteID: attempt.remoteStreamID, address: address)
        } catch {
            logger.debug("hyperdht server: could not connect the stream", metadata: ["error": "\(error)"])
            stream.destroy()
            return
        }
        let session = SecretStreamSession(isInitiator: false, handshake: result)
        let onConnection = onConnection
        SwarmConnection.establish(over: stream, session: session, label: "hyperdht-server", logger: logger)
            .whenSuccess { connection in
                onConnection(HyperDHTConnection(connection: connection, path: .direct, remoteAddress: endpoint))
            }
    }

    private func clearLater(_ noise: [UInt8]) {
        eventLoop.scheduleTask(in: Self.clearWait) { [weak self] in
            guard let self, let attempt = attempts.removeValue(forKey: noise) else { return }
            sessions[attempt.id] = nil
            if !attempt.connected { attempt.stream?.destroy() }
        }
    }
}
