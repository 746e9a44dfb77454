import CompactEncoding
import NIOCore

/// What a client's holepunch rounds go by (hyperdht 6.33 `lib/connect.js`, `holepunch` to `roundPunch`): the
/// server's session id and announce relays, the secret the rounds are sealed with, the node our handshake went
/// through, and where we believe the server is.
struct HolepunchSession {
    let id: UInt64
    let relays: [(relayAddress: IPv4Endpoint, peerAddress: IPv4Endpoint)]
    let secure: HyperDHTSecurePayload
    /// The node our handshake went through (it holds the server's route).
    let clientRelay: IPv4Endpoint
    var serverAddress: IPv4Endpoint
    let remoteFirewall: UInt64

    /// The server relay the rounds start through: the one our handshake went through when it is one of them
    /// (`pickServerRelay`), else any.
    var serverRelay: (relayAddress: IPv4Endpoint, peerAddress: IPv4Endpoint) {
        relays.first { $0.relayAddress == clientRelay } ?? relays.randomElement()!
    }
}

/// One answered holepunch round: who answered, where it saw us, where the server is as that relay saw it, and the
/// server's payload.
struct HolepunchReply {
    let from: IPv4Endpoint
    let to: IPv4Endpoint
    let peerAddress: IPv4Endpoint
    let payload: HyperDHTHolepunchPayload
}

extension ClientAttempt {
    /// Punching has nothing left to do: the attempt settled, unless it settled on the relay and may still move to
    /// a punched path.
    var punchingOver: Bool { finished && !upgrading }

    /// Both sides are firewalled and the server can be punched to: a puncher of our own, a probe round through the
    /// server's relay (both sides learn the other's NAT and addresses, and a token proves the server's address),
    /// then the punch round, after which both send probes until one gets through; the first probe that reaches us
    /// is the path the stream takes.
    func startHolepunch(_ session: HolepunchSession) {
        let remote = HyperDHTFirewall(rawValue: session.remoteFirewall) ?? .unknown
        HyperDHTHolepuncher.start(node: node, isInitiator: true, remoteFirewall: remote, logger: logger).whenComplete { [weak self] result in
            guard let self else { return }
            guard case .success(let puncher) = result else { return fail(.holepunchAborted) }
            guard !punchingOver else { return puncher.destroy() }
            self.puncher = puncher
            punchingStarted = .now()
            puncher.onConnect = { [weak self] holder, from in self?.onSocket?(holder.socket, from, .punched) }
            puncher.onAbort = { [weak self] in self?.fail(.holepunchAborted) }
            probeRound(session, retry: true).flatMap { [self] probe -> EventLoopFuture<Void> in
                guard let probe, !punchingOver else { return node.eventLoop.makeSucceededVoidFuture() }
                var session = session
                // The server may have answered from another socket than the one we first heard of (it rerolled
                // it for an unstable NAT): when the same relay carried both, that is the one to aim at.
                if session.serverRelay.relayAddress == session.clientRelay, probe.peerAddress != session.serverAddress {
                    session.serverAddress = probe.peerAddress
                    puncher.openSession(session.serverAddress)
                }
                return roundPunch(session, remoteToken: probe.token)
            }.whenFailure { [weak self] error in
                self?.logger.debug("holepunch: rounds failed", metadata: ["error": "\(error)"])
                // Already relayed: the connection stays where it is.
                if self?.upgrading == true { self?.puncher?.destroy() }
                self?.fail(error as? HyperDHTConnectError ?? .holepunchAborted)
            }
        }
    }

    /// `probeRound`: open our NAT toward the server with a short-lived probe, tell the server our NAT and
    /// addresses, learn its, and wait until both NATs are classified. Nil when the attempt ended meanwhile.
    private func probeRound(_ session: HolepunchSession, retry: Bool) -> EventLoopFuture<(token: [UInt8]?, peerAddress: IPv4Endpoint)?> {
        let loop = node.eventLoop
        guard let puncher, !punchingOver else { return loop.makeSucceededFuture(nil) }
        puncher.openSession(session.serverAddress)
        let relay = session.serverRelay
        let payload = HyperDHTHolepunchPayload(
            firewall: puncher.nat.firewall.rawValue, round: nextRound(), connected: false, punching: false,
            addresses: puncher.nat.addresses, remoteAddress: session.serverAddress)
        return updateHolepunch(session, peerAddress: relay.peerAddress, relay: relay.relayAddress, payload: payload)
            .flatMap { [self] reply in
                puncher.addSample(observed: reply.to, from: reply.from)
                // A server that does not know its NAT yet gets a moment to find out.
                let pause: TimeAmount = puncher.remoteFirewall == .unknown ? .seconds(1) : .zero
                return loop.scheduleTask(in: pause) {}.futureResult.flatMap { puncher.analyze(allowReopen: false) }
                    .flatMap { stable in
                        // Unstable (a mobile NAT): fresh sockets, and when one settles, the probe round again on it.
                        stable ? loop.makeSucceededFuture(false) : puncher.analyze(allowReopen: true)
                    }
                    .flatMap { [self] reprobe -> EventLoopFuture<(token: [UInt8]?, peerAddress: IPv4Endpoint)?> in
                        guard !punchingOver else { return loop.makeSucceededFuture(nil) }
                        if reprobe || ((puncher.remoteFirewall == .unknown || reply.payload.token == nil) && retry) {
                            return probeRound(session, retry: false)
                        }
                        if puncher.remoteFirewall == .unknown || puncher.nat.firewall == .unknown {
                            return abort(session, .holepunchProbeTimeout).map { nil }
                        }
                        if puncher.remoteFirewall == .random && puncher.nat.firewall == .random {
                            return abort(session, .doubleRandomizedNATs).map { nil }
                        }
                        return loop.makeSucceededFuture((reply.payload.token, reply.peerAddress))
                    }
            }
    }

    /// `roundPunch`: our final NAT view, frozen, and our token for the server's address; the server verifies the
    /// echo, starts punching and says so, and we start too.
    private func roundPunch(_ session: HolepunchSession, remoteToken: [UInt8]?) -> EventLoopFuture<Void> {
        let loop = node.eventLoop
        guard let puncher, !punchingOver else { return loop.makeSucceededVoidFuture() }
        let isRandom = puncher.remoteFirewall == .random || puncher.nat.firewall == .random
        if isRandom, isRelayPairing, let relaySettled {
            // Punching a randomising NAT takes hundreds of probes and up to seconds; a relay being paired connects in
            // milliseconds. Let it, then punch from the relayed connection and move it when the punch gets through.
            return relaySettled.flatMap { self.roundPunch(session, remoteToken: remoteToken) }
        }
        puncher.freeze()
        if isRandom {
            // Without a relay to wait through, a punch the node cannot afford now is given up (the reference's
            // `tryLater` needs a relay token).
            guard node.mayPunchRandomly else { return loop.makeFailedFuture(HyperDHTConnectError.holepunchAborted) }
            node.randomPunches += 1
        }
        let payload = HyperDHTHolepunchPayload(
            firewall: puncher.nat.firewall.rawValue, round: nextRound(), connected: false, punching: true,
            addresses: puncher.nat.addresses, token: session.secure.token(for: session.serverAddress),
            remoteToken: remoteToken)
        return updateHolepunch(session, peerAddress: session.serverAddress, relay: session.clientRelay, payload: payload)
            .always { [node] _ in if isRandom { node.randomPunches -= 1 } }
            .flatMap { [self] _ in
                guard !punchingOver else { return loop.makeSucceededVoidFuture() }
                guard puncher.remoteHolepunching else {
                    return loop.makeFailedFuture(HyperDHTConnectError.remoteNotHolepunching)
                }
                return puncher.punch().flatMapThrowing { started in
                    guard started else { throw HyperDHTConnectError.remoteNotHolepunchable }
                }
            }
    }

    /// One holepunch round through `relay` to the server at `peerAddress`, from our punching socket (so the relay
    /// sees the address the punch will use). The server's answer updates what the puncher knows of it; its address
    /// counts as verified when it echoed our token.
    private func updateHolepunch(
        _ session: HolepunchSession, peerAddress: IPv4Endpoint, relay: IPv4Endpoint, payload: HyperDHTHolepunchPayload
    ) -> EventLoopFuture<HolepunchReply> {
        guard let puncher, let socket = puncher.socket else {
            return node.eventLoop.makeFailedFuture(HyperDHTConnectError.holepunchAborted)
        }
        var request = DHTNode.command(.peerHolepunch, target: target)
        request.value = HyperDHTHolepunch(
            mode: HyperDHTRelayMode.fromClient.rawValue, id: session.id, payload: session.secure.encrypt(payload),
            peerAddress: peerAddress
        ).compactEncoded()
        let logger = logger
        return node.requestWithSource(request, to: relay, from: socket.requestSocket)
            .flatMapErrorThrowing { error in
                logger.debug("holepunch: round unanswered", metadata: ["relay": "\(relay)", "error": "\(error)"])
                throw HyperDHTConnectError.holepunchAborted
            }
            .flatMapThrowing { response, from in
                guard from == relay, let value = response.value, let answer = try? HyperDHTHolepunch(leniently: value),
                    answer.mode == HyperDHTRelayMode.reply.rawValue, let remote = session.secure.decrypt(answer.payload)
                else { throw HyperDHTConnectError.holepunchInvalid }
                guard remote.error == 0 else { throw HyperDHTConnectError.remoteAborted(remote.error) }
                let serverAt = answer.peerAddress ?? relay
                let echoed = payload.token != nil && remote.remoteToken == payload.token
                puncher.updateRemote(
                    punching: remote.punching, firewall: remote.firewall, addresses: remote.addresses,
                    verified: echoed ? serverAt.address : nil)
                return HolepunchReply(from: from, to: response.to, peerAddress: serverAt, payload: remote)
            }
    }

    /// Tells the server we give up (error ABORTED through its relay, answer or not), then fails with `error`.
    private func abort(_ session: HolepunchSession, _ error: HyperDHTConnectError) -> EventLoopFuture<Void> {
        let relay = session.serverRelay
        let payload = HyperDHTHolepunchPayload(
            error: 1, firewall: HyperDHTFirewall.unknown.rawValue, round: nextRound(), connected: false, punching: false)
        return updateHolepunch(session, peerAddress: relay.peerAddress, relay: relay.relayAddress, payload: payload)
            .map { _ in }.recover { _ in }
            .flatMapThrowing { throw error }
    }

    private func nextRound() -> UInt64 {
        defer { holepunchRound += 1 }
        return holepunchRound
    }
}
