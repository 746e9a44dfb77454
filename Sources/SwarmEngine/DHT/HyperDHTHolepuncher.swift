import CompactEncoding
import Logging
import NIOCore

/// One side's hole punching for one connection attempt (hyperdht 6.33 `lib/holepuncher.js`): a socket of its own,
/// the classification of the NAT in front of it (from four DHT nodes' view of it, and the relays'), what the other
/// side said of itself, and the punch itself — one-byte probes that open both NATs' mappings toward each other.
///
/// Strategies by the two NATs (OPEN counts as CONSISTENT, as in the reference):
/// - both consistent: every second, a probe to each address the other side reported (unverified ones every fourth
///   time), ten times; the side that did not initiate waits a second first (the server's "fast mode" ping went out).
/// - we consistent, they random: probes to random ports of their verified host. The reference sends one every
///   20 ms; we send a burst of `randomBurst` every 10 ms for the first five seconds (400 a second: against the 256
///   sockets the other side opens, half the attempts meet within about 0.4 s instead of several seconds), then the
///   reference's pace up to its 35 s.
/// - we random, they consistent: the birthday side. Up to 256 sockets, each opening its mapping with a short-lived
///   probe toward their verified address, then kept alive round-robin every 20 ms up to 35 s.
/// - both random: not punchable (the caller relays).
///
/// The initiator (client) takes the first probe that reaches any of its sockets as the path: it keeps that socket
/// and releases the others. The other side answers every probe with one. Runs on the node's event loop.
final class HyperDHTHolepuncher: @unchecked Sendable {
    struct RemoteAddress: Equatable {
        var address: IPv4Endpoint
        var verified: Bool
    }

    static let birthdaySockets = 256
    static let probeTimeToLive = 5
    static let maximumReopens = 3
    /// Probes per 10 ms tick while spraying a randomising NAT's ports, and for how many ticks (five seconds).
    static let randomBurst = 4
    static let fastRandomTicks = 500

    let node: DHTNode
    let isInitiator: Bool
    let logger: Logger
    private(set) var nat: HyperDHTNATClassifier
    private(set) var remoteFirewall: HyperDHTFirewall
    private(set) var remoteAddresses: [RemoteAddress] = []
    private(set) var remoteHolepunching = false
    private(set) var punching = false
    private(set) var connected = false
    private(set) var destroyed = false
    /// Probes this side sent (the matrix reports it).
    private(set) var probesSent = 0
    /// The socket that reached the other side, and where (initiator only).
    var onConnect: ((DHTNode.PunchingSocket, IPv4Endpoint) -> Void)?
    var onAbort: (() -> Void)?

    private var holders: [DHTNode.PunchingSocket] = []
    private var sampling: (promise: EventLoopPromise<Void>, visited: Set<IPv4Endpoint>, pending: Int, retry: Bool)
    private var reopening: EventLoopFuture<Bool>?
    private var punchStarted: EventLoopFuture<Bool>?
    private var timers: [Scheduled<Void>] = []
    private var isRandomized = false

    private init(node: DHTNode, isInitiator: Bool, remoteFirewall: HyperDHTFirewall, logger: Logger) {
        self.node = node
        self.isInitiator = isInitiator
        self.logger = logger
        self.remoteFirewall = remoteFirewall
        nat = HyperDHTNATClassifier(firewalled: node.isFirewalled)
        sampling = (node.eventLoop.makePromise(), [], 0, true)
    }

    /// A puncher with its first socket bound and its NAT being sampled.
    static func start(
        node: DHTNode, isInitiator: Bool, remoteFirewall: HyperDHTFirewall, logger: Logger
    ) -> EventLoopFuture<HyperDHTHolepuncher> {
        node.bindPunchingSocket().map { socket in
            start(node: node, isInitiator: isInitiator, remoteFirewall: remoteFirewall, logger: logger, socket: socket)
        }
    }

    /// A puncher on a socket bound before (a server's, which answers the handshake from it at once).
    static func start(
        node: DHTNode, isInitiator: Bool, remoteFirewall: HyperDHTFirewall, logger: Logger, socket: DHTNode.PunchingSocket
    ) -> HyperDHTHolepuncher {
        let puncher = HyperDHTHolepuncher(node: node, isInitiator: isInitiator, remoteFirewall: remoteFirewall, logger: logger)
        puncher.adopt(socket)
        puncher.holders = [socket]
        puncher.autoSample()
        return puncher
    }

    var socket: DHTNode.PunchingSocket? { holders.first }

    private func acquire() -> EventLoopFuture<DHTNode.PunchingSocket> {
        node.bindPunchingSocket().map { [self] socket in
            adopt(socket)
            return socket
        }
    }

    private func adopt(_ socket: DHTNode.PunchingSocket) {
        node.onProbe(socket) { [weak self] socket, from in self?.probeArrived(on: socket, from: from) }
    }

    /// Takes the punching socket that is `socket` out of the puncher's care (a stream runs on it now; its owner
    /// releases it), or nil when it is not one of ours.
    func take(_ socket: UDXSocket) -> DHTNode.PunchingSocket? {
        guard let index = holders.firstIndex(where: { $0.socket === socket }) else { return nil }
        node.onProbe(holders[index], nil)
        return holders.remove(at: index)
    }

    // MARK: - What the other side said

    /// `updateRemote`: the other side's view of itself from a holepunch round; `verified` is a host whose token it
    /// echoed (an address it really receives at).
    func updateRemote(punching: Bool, firewall: UInt64, addresses: [IPv4Endpoint]?, verified: UInt32?) {
        remoteAddresses = (addresses ?? []).map { address in
            RemoteAddress(
                address: address,
                verified: verified == address.address
                    || remoteAddresses.contains { $0.verified && $0.address.address == address.address })
        }
        remoteFirewall = HyperDHTFirewall(rawValue: firewall) ?? .unknown
        remoteHolepunching = punching
    }

    /// A sample from a holepunch round's reply: where the relay saw our socket.
    func addSample(observed: IPv4Endpoint, from relay: IPv4Endpoint) {
        nat.add(observed: observed, from: relay)
        resolveSamplingIfDecided()
    }

    func freeze() { nat.frozen = true }

    // MARK: - NAT sampling

    /// `Nat.autoSample`: four pings from our socket to recently seen nodes, once more with others if too few answer.
    private func autoSample() {
        guard let holder = holders.first else { return }
        let wanted = max(0, 4 - nat.sampled - sampling.pending)
        let nodes = node.natSampleCandidates(count: wanted, visited: sampling.visited)
        sampling.visited.formUnion(nodes)
        sampling.pending += nodes.count + 1
        for endpoint in nodes {
            node.ping(endpoint, from: holder).whenComplete { [weak self] result in
                guard let self, holders.first?.number == holder.number else { return }
                if case .success(let (response, from)) = result { addSample(observed: response.to, from: from) }
                sampleSettled()
            }
        }
        sampleSettled()
    }

    private func sampleSettled() {
        sampling.pending -= 1
        guard sampling.pending == 0, nat.sampled < 4 else { return }
        if sampling.retry {
            sampling.retry = false
            autoSample()
        } else {
            sampling.promise.succeed()
        }
    }

    private func resolveSamplingIfDecided() {
        if nat.isDecided() { sampling.promise.succeed() }
    }

    /// `analyze`: waits for the sampling; false while the NAT looks unstable (unknown, or random against random),
    /// unless `allowReopen`, which tries up to three fresh sockets first (mobile NATs settle on a new one).
    func analyze(allowReopen: Bool) -> EventLoopFuture<Bool> {
        sampling.promise.futureResult.flatMap { [self] in
            logger.debug(
                "holepunch: NAT analysed",
                metadata: [
                    "side": "\(isInitiator ? "client" : "server")", "firewall": "\(nat.firewall)",
                    "addresses": "\(nat.addresses ?? [])", "samples": "\(nat.sampled)", "remote": "\(remoteFirewall)",
                ])
            guard unstable else { return node.eventLoop.makeSucceededFuture(true) }
            guard allowReopen else { return node.eventLoop.makeSucceededFuture(false) }
            if let reopening { return reopening }
            let future = reopen(attempt: 0)
            reopening = future
            return future
        }
    }

    private var unstable: Bool {
        (remoteFirewall.rawValue >= HyperDHTFirewall.random.rawValue && nat.firewall.rawValue >= HyperDHTFirewall.random.rawValue)
            || nat.firewall == .unknown
    }

    private func reopen(attempt: Int) -> EventLoopFuture<Bool> {
        guard unstable, attempt < Self.maximumReopens, !destroyed, !connected, !punching else {
            return node.eventLoop.makeSucceededFuture(Self.coerced(nat.firewall) == .consistent)
        }
        return acquire().flatMap { [self] holder in
            guard !destroyed else {
                node.releasePunchingSocket(holder)
                return node.eventLoop.makeSucceededFuture(false)
            }
            if let previous = holders.first { node.releasePunchingSocket(previous) }
            holders = [holder]
            nat = HyperDHTNATClassifier(firewalled: node.isFirewalled)
            sampling.promise.succeed()
            sampling = (node.eventLoop.makePromise(), [], 0, true)
            autoSample()
            return sampling.promise.futureResult.flatMap { self.reopen(attempt: attempt + 1) }
        }
    }

    // MARK: - Probes

    /// A probe with the default time-to-live (`ping`).
    func ping(_ address: IPv4Endpoint, from holder: DHTNode.PunchingSocket? = nil) {
        send(to: address, from: holder ?? holders.first, shortLived: false)
    }

    /// A short-lived probe (`openSession`): opens our NAT toward `address` without reaching their NAT.
    func openSession(_ address: IPv4Endpoint) {
        send(to: address, from: holders.first, shortLived: true)
    }

    private func send(to address: IPv4Endpoint, from holder: DHTNode.PunchingSocket?, shortLived: Bool) {
        guard let holder, let socketAddress = address.socketAddress, !destroyed else { return }
        probesSent += 1
        let probe = ByteBuffer(bytes: [0])
        if shortLived {
            holder.socket.send(probe, to: socketAddress, timeToLive: Self.probeTimeToLive)
        } else {
            holder.socket.send(probe, to: socketAddress)
        }
    }

    private func probeArrived(on socket: UDXSocket, from: IPv4Endpoint) {
        guard !destroyed, let holder = holders.first(where: { $0.socket === socket }) else { return }
        guard isInitiator else {
            // Answer, so that the initiator learns this path works.
            ping(from, from: holder)
            return
        }
        guard !connected else { return }
        logger.debug("holepunch: probe arrived", metadata: ["from": "\(from)", "probes sent": "\(probesSent)"])
        connected = true
        punching = false
        cancelTimers()
        for other in holders where other.number != holder.number { node.releasePunchingSocket(other) }
        holders = [holder]
        endRandomized()
        onConnect?(holder, from)
    }

    // MARK: - Punching

    /// Starts punching (once); true when a strategy fits the two NATs and has begun.
    func punch() -> EventLoopFuture<Bool> {
        if let punchStarted { return punchStarted }
        let started = startPunching()
        punchStarted = started
        return started
    }

    private func startPunching() -> EventLoopFuture<Bool> {
        let loop = node.eventLoop
        guard !destroyed, !connected, !remoteAddresses.isEmpty else { return loop.makeSucceededFuture(false) }
        punching = true
        let local = Self.coerced(nat.firewall)
        let remote = Self.coerced(remoteFirewall)
        logger.debug(
            "holepunch: punching",
            metadata: [
                "side": "\(isInitiator ? "client" : "server")", "local": "\(local)", "remote": "\(remote)",
                "remote addresses": "\(remoteAddresses.map { "\($0.address)\($0.verified ? " verified" : "")" })",
            ])
        if local == .consistent && remote == .consistent {
            consistentProbes(tries: 0)
            return loop.makeSucceededFuture(true)
        }
        guard let verified = remoteAddresses.first(where: \.verified)?.address else {
            punching = false
            return loop.makeSucceededFuture(false)
        }
        if local == .consistent && remote == .random {
            beginRandomized()
            randomProbes(to: verified.address, tick: 0)
            return loop.makeSucceededFuture(true)
        }
        if local == .random && remote == .consistent {
            beginRandomized()
            return openBirthdaySockets(toward: verified).map { [self] in
                if punching { keepBirthdaySocketsAlive(toward: verified, index: 0, lowTTLRounds: 1, tries: 1750, delay: .milliseconds(100)) }
                return true
            }
        }
        punching = false
        return loop.makeSucceededFuture(false)
    }

    private func consistentProbes(tries: Int) {
        // The side that did not initiate waits first: the server's fast-mode ping just went out.
        let delay: TimeAmount = tries == 0 ? (isInitiator ? .zero : .seconds(1)) : .seconds(1)
        schedule(in: delay) { [self] in
            guard punching else { return autoDestroy() }
            let round = tries + 1
            guard round <= 10 else { return autoDestroy() }
            for remote in remoteAddresses where remote.verified || round & 3 == 0 { ping(remote.address) }
            consistentProbes(tries: round)
        }
    }

    private func randomProbes(to host: UInt32, tick: Int) {
        let fast = tick < Self.fastRandomTicks
        // 35 s in all: five at 10 ms ticks, the rest at the reference's 20 ms.
        guard tick < Self.fastRandomTicks + 1500 else { return autoDestroy() }
        schedule(in: tick == 0 ? .zero : fast ? .milliseconds(10) : .milliseconds(20)) { [self] in
            guard punching else { return autoDestroy() }
            for _ in 0..<(fast ? Self.randomBurst : 1) {
                ping(IPv4Endpoint(address: host, port: UInt16.random(in: 1000...65535)))
            }
            randomProbes(to: host, tick: tick + 1)
        }
    }

    private func openBirthdaySockets(toward remote: IPv4Endpoint) -> EventLoopFuture<Void> {
        guard punching, holders.count < Self.birthdaySockets else { return node.eventLoop.makeSucceededVoidFuture() }
        return acquire().flatMap { [self] holder in
            guard punching else {
                node.releasePunchingSocket(holder)
                return node.eventLoop.makeSucceededVoidFuture()
            }
            holders.append(holder)
            send(to: remote, from: holder, shortLived: true)
            return openBirthdaySockets(toward: remote)
        }
    }

    private func keepBirthdaySocketsAlive(toward remote: IPv4Endpoint, index: Int, lowTTLRounds: Int, tries: Int, delay: TimeAmount) {
        schedule(in: delay) { [self] in
            guard punching, tries > 0 else { return autoDestroy() }
            var index = index
            var lowTTLRounds = lowTTLRounds
            if index >= holders.count {
                index = 0
                lowTTLRounds = max(0, lowTTLRounds - 1)
            }
            send(to: remote, from: holders[index], shortLived: lowTTLRounds > 0)
            keepBirthdaySocketsAlive(
                toward: remote, index: index + 1, lowTTLRounds: lowTTLRounds, tries: tries - 1, delay: .milliseconds(20))
        }
    }

    private func schedule(in delay: TimeAmount, _ body: @escaping () -> Void) {
        let task = node.eventLoop.scheduleTask(in: delay) { [weak self] in
            guard let self, !destroyed else { return }
            body()
        }
        timers = [task]
    }

    private func cancelTimers() {
        for timer in timers { timer.cancel() }
        timers = []
    }

    private func autoDestroy() {
        if !connected { destroy() }
    }

    private func beginRandomized() {
        guard !isRandomized else { return }
        isRandomized = true
        node.randomPunches += 1
    }

    private func endRandomized() {
        guard isRandomized else { return }
        isRandomized = false
        node.randomPunches -= 1
        node.lastRandomPunch = .now()
    }

    /// Stops punching and sampling and releases every socket but the connected one (whose owner releases it);
    /// `onAbort` when it never connected.
    func destroy() {
        guard !destroyed else { return }
        destroyed = true
        punching = false
        cancelTimers()
        sampling.promise.succeed()
        if !connected {
            if onAbort != nil {
                logger.debug("holepunch: given up", metadata: ["side": "\(isInitiator ? "client" : "server")", "probes sent": "\(probesSent)"])
            }
            for holder in holders { node.releasePunchingSocket(holder) }
            holders = []
            endRandomized()
            let onAbort = onAbort
            self.onAbort = nil
            onAbort?()
        }
        onConnect = nil
    }

    static func coerced(_ firewall: HyperDHTFirewall) -> HyperDHTFirewall { firewall == .open ? .consistent : firewall }
}
