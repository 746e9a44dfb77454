import CompactEncoding
import Logging
import NIOCore
import NetworkLab
import Sodium
import Synchronization
import Testing

@testable import SwarmEngine

/// Two Hyperswarm-style swarms (`DHTSwarm` + `PeerConnectionManager`) on a six-node test net on 127.0.0.1, with no
/// address given to either: joining one topic at the same moment, they find each other by key, connect over UDX, and
/// both keep the same single connection; a peer known by key that is gone is given up.
@Suite(.serialized) struct DHTSwarmTests {
    final class Peer: Sendable {
        let keyPair = Ed25519.randomKeyPair()
        let swarm: DHTSwarm
        let manager: PeerConnectionManager
        let kept: AsyncStream<any PeerConnection>
        let runner: Task<Void, Never>

        init(bootstrap: IPv4Endpoint, loop: any EventLoop) async throws {
            var logger = Logger(label: "test.swarm")
            logger.logLevel = .critical
            var configuration = DHTSwarm.Configuration(host: "127.0.0.1", bootstrap: [bootstrap])
            configuration.retry = TimeAmount.milliseconds(200)
            swarm = DHTSwarm(keyPair: keyPair, configuration: configuration, eventLoop: loop, logger: logger)
            let (kept, keep) = AsyncStream<any PeerConnection>.makeStream()
            self.kept = kept
            manager = PeerConnectionManager(
                localKey: keyPair.publicKey, transport: SwarmTransport(keyPair: keyPair, logger: logger, group: loop),
                keyDialler: swarm, discovery: swarm,
                retry: RetrySchedule(initial: .milliseconds(100), maximum: .milliseconds(500)), keyAttempts: 2,
                logger: logger
            ) { connection in
                keep.yield(connection)
                Task { for await _ in connection.events {} }
            }
            let manager = self.manager
            runner = Task { try? await manager.run() }
            _ = try await swarm.bind()
            swarm.start { connection in manager.accepted(connection) }
        }

        func close() async {
            manager.shutdown()
            await runner.value
            await swarm.close()
        }
    }

    /// The connection each side keeps last, once both keep one with the same handshake (the same connection), or
    /// nil after `timeout`.
    static func agreedConnections(_ a: Peer, _ b: Peer, timeout: Duration = .seconds(20)) async -> (any PeerConnection, any PeerConnection)? {
        final class State: Sendable {
            let latest = Mutex<[Int: any PeerConnection]>([:])
            let timedOut = Mutex(false)
        }
        let state = State()
        return await withTaskGroup(of: (any PeerConnection, any PeerConnection)?.self) { group in
            for (index, peer) in [a, b].enumerated() {
                group.addTask {
                    for await connection in peer.kept {
                        let pair: (any PeerConnection, any PeerConnection)? = state.latest.withLock { latest in
                            latest[index] = connection
                            guard let first = latest[0], let second = latest[1], first.handshakeHash == second.handshakeHash
                            else { return nil }
                            return (first, second)
                        }
                        if let pair { return pair }
                    }
                    return nil
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                state.timedOut.withLock { $0 = true }
                return nil
            }
            // The first pair found; nil once the timeout (the last task to answer without one) answers.
            var result: (any PeerConnection, any PeerConnection)?
            for await next in group {
                if let next {
                    result = next
                    break
                }
                if state.timedOut.withLock({ $0 }) { break }
            }
            group.cancelAll()
            return result
        }
    }

    /// Two peers on a six-node test net that join one fresh topic at the same moment; closed after `body`.
    static func twoPeersOnATopic(_ body: (Peer, Peer, [UInt8]) async throws -> Void) async throws {
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let a = try await Peer(bootstrap: net.bootstrap, loop: loop)
            let b = try await Peer(bootstrap: net.bootstrap, loop: loop)
            let topic = RandomBytes.generate(count: 32)
            await a.swarm.join(topic: topic)
            await b.swarm.join(topic: topic)
            do {
                try await body(a, b, topic)
            } catch {
                await a.close()
                await b.close()
                throw error
            }
            await a.close()
            await b.close()
        }
    }

    @Test func twoPeersJoiningATopicAtOnceKeepOneConnection() async throws {
        try await Self.twoPeersOnATopic { a, b, _ in
            let agreed = await Self.agreedConnections(a, b)
            #expect(agreed != nil, "both sides keep one and the same connection")
            if let (onA, onB) = agreed {
                #expect(onA.remotePublicKey == b.keyPair.publicKey)
                #expect(onB.remotePublicKey == a.keyPair.publicKey)
                #expect(onA.isInitiator != onB.isInitiator)
                // (Which one is kept depends on whether both dialled before either connection was up; when both
                // did, the rule both sides apply decides: PeerConnectionTableTests.)
                let path = await onA.pathInfo()
                #expect(["direct", "punched"].contains(path.kind))
            }
            let counts = (await a.manager.connectionCount, await b.manager.connectionCount)
            #expect(counts == (1, 1))
        }
    }

    /// A key is dialled while it was found under a topic we are in: after leaving, the one we left does not keep its
    /// peers wanted (their connections are not redialled when they end); a key never found is not dialled at all.
    @Test func keysAreWantedOnlyWhileTheirTopicIsJoined() async throws {
        try await Self.twoPeersOnATopic { a, b, topic in
            #expect(await Self.agreedConnections(a, b) != nil)
            // Each is wanted by the other once the other's lookup found it (the follow-up lookups come within
            // seconds; the connection may have come from one side's find alone).
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let both = (await a.swarm.isWanted(b.keyPair.publicKey), await b.swarm.isWanted(a.keyPair.publicKey))
                if both == (true, true) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await a.swarm.isWanted(b.keyPair.publicKey))
            #expect(await b.swarm.isWanted(a.keyPair.publicKey))
            await b.swarm.leave(topic: topic)
            #expect(await b.swarm.isWanted(a.keyPair.publicKey) == false)
            #expect(await a.swarm.isWanted(b.keyPair.publicKey))
            let stranger = Ed25519.randomKeyPair().publicKey
            #expect(await a.swarm.isWanted(stranger) == false)
            // Returns at once: nothing to dial.
            await a.manager.dial(PeerCandidate(publicKey: stranger))
        }
    }
}
