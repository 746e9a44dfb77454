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

    @Test func twoPeersJoiningATopicAtOnceKeepOneConnection() async throws {
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let a = try await Peer(bootstrap: net.bootstrap, loop: loop)
            let b = try await Peer(bootstrap: net.bootstrap, loop: loop)
            let topic = RandomBytes.generate(count: 32)
            await a.swarm.join(topic: topic)
            await b.swarm.join(topic: topic)
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
            await a.close()
            await b.close()
        }
    }

    @Test func aPeerGoneForGoodIsGivenUp() async throws {
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let a = try await Peer(bootstrap: net.bootstrap, loop: loop)
            await a.swarm.flush()
            // A key nobody serves: dialled twice (keyAttempts), then the dialler returns (until a lookup finds the key
            // again); a dialler that kept trying would be cut off by the timeout.
            let stranger = Ed25519.randomKeyPair().publicKey
            let gaveUp = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await a.manager.dial(PeerCandidate(publicKey: stranger))
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(60))
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            #expect(gaveUp)
            #expect(await a.manager.connectionCount == 0)
            await a.close()
        }
    }
}
