import Logging
import Sodium
import Synchronization
import Testing

@testable import SwarmEngine

/// Two nodes on 127.0.0.1 with real transports and connection managers.
@Suite(.serialized) struct PeerConnectionManagerTests {
    final class Node: Sendable {
        let keyPair = Ed25519.randomKeyPair()
        let transport: SwarmTransport
        let manager: PeerConnectionManager
        let port: Int
        let runner: Task<Void, Never>

        /// Candidates handed out when the test says so.
        final class ManualDiscovery: PeerDiscovery {
            let candidates: AsyncStream<PeerCandidate>
            let input: AsyncStream<PeerCandidate>.Continuation

            init() { (candidates, input) = AsyncStream.makeStream() }

            func join(topic: [UInt8]) async {}
            func leave(topic: [UInt8]) async {}
        }

        let discovery = ManualDiscovery()

        init(peers: [PeerAddress] = [], listenPort: Int = 0, peersOfItself: Bool = false) async throws {
            var logger = Logger(label: "test.manager")
            logger.logLevel = .critical
            transport = SwarmTransport(keyPair: keyPair, logger: logger)
            let box = Box()
            var peers = peers
            // Our own listener, bound first so a static peer can point at it.
            let ownPort = try await transport.listen(host: "127.0.0.1", port: listenPort) { connection in box.accepted(connection) }
            if peersOfItself { peers.append(PeerAddress(host: "127.0.0.1", port: ownPort)) }
            manager = PeerConnectionManager(
                localKey: keyPair.publicKey, transport: transport, discovery: discovery,
                retry: RetrySchedule(initial: .milliseconds(50), maximum: .milliseconds(200)), logger: logger
            ) { connection in
                box.handedOver.withLock { $0.append(connection) }
                // Consume the events, as the gateway would.
                Task { for await _ in connection.events {} }
            }
            let manager = self.manager
            box.manager.withLock { $0 = manager }
            port = ownPort
            for peer in peers { discovery.input.yield(PeerCandidate(address: peer)) }
            runner = Task { try? await manager.run() }
            self.box = box
        }

        /// Every connection handed over (kept), in order; and the manager, once made, for the listener.
        final class Box: Sendable {
            let handedOver = Mutex<[any PeerConnection]>([])
            let manager = Mutex<PeerConnectionManager?>(nil)

            func accepted(_ connection: any PeerConnection) {
                if let manager = manager.withLock({ $0 }) { manager.accepted(connection) } else { connection.disconnect() }
            }
        }

        let box: Box

        var address: PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }

        /// The hashes of the connections kept right now (one connection has the same hash on both sides).
        var keptHashes: [[UInt8]] {
            get async { await manager.connections.map(\.handshakeHash) }
        }

        func stop() async {
            manager.shutdown()
            await runner.value
            try? await transport.shutdown()
        }
    }

    /// Waits until each node keeps exactly one connection, and it is the same one (same handshake hash).
    static func waitForOneSharedConnection(_ a: Node, _ b: Node) async throws {
        try await waitUntil("one shared connection") {
            let (x, y) = (await a.keptHashes, await b.keptHashes)
            return x.count == 1 && x == y
        }
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// Both dial each other (in either order): each ends with one connection to the other, and it is the same one.
    @Test func twoNodesDiallingEachOtherKeepOneConnection() async throws {
        let a = try await Node(), b = try await Node()
        let forward = try await a.manager.connect(to: b.address)
        #expect(forward == .connected)
        let backward = try await b.manager.connect(to: a.address)
        // The dial of the larger key stays (Hyperswarm's rule); either way one stays and it is the same on both sides.
        let aFirst = a.keyPair.publicKey.lexicographicallyPrecedes(b.keyPair.publicKey)
        #expect(backward == (aFirst ? .connected : .alreadyConnected))
        try await Self.waitForOneSharedConnection(a, b)
        // Settled: the duplicate was ended on both sides and nothing else appears.
        try await Self.waitUntil("the duplicate closed") {
            let all = a.box.handedOver.withLock { $0 } + b.box.handedOver.withLock { $0 }
            let open = all.filter(\.isStillOpen)
            return open.count == 2
        }
        await a.stop()
        await b.stop()
    }

    /// Two nodes given each other as peers at the same moment dial at once; the race ends in one shared connection
    /// (whichever handshake finishes first on either side), and it stays: no redial churn.
    @Test(arguments: 0..<5)
    func peersGivenEachOtherAtOnceEndWithOneConnection(round: Int) async throws {
        let a = try await Node(), b = try await Node()
        a.discovery.input.yield(PeerCandidate(address: b.address))
        b.discovery.input.yield(PeerCandidate(address: a.address))
        try await Self.waitForOneSharedConnection(a, b)
        await a.stop()
        await b.stop()
    }

    @Test func aBannedPeerIsRefusedAndDisconnected() async throws {
        let a = try await Node(), b = try await Node()
        #expect(try await a.manager.connect(to: b.address) == .connected)
        try await Self.waitUntil("b has it") { await b.manager.connectionCount == 1 }
        let first = try #require(await a.manager.connections.first as? SwarmConnection)
        b.manager.ban(a.keyPair.publicKey, reason: "test")
        await first.waitUntilClosed()
        try await Self.waitUntil("a saw its connection go") { await a.manager.connectionCount == 0 }
        // a dials again: b refuses it after the handshake and hands nothing over.
        let again = try await a.manager.connect(to: b.address)
        #expect(again == .connected, "a keeps its side until it sees b close it")
        let second = try #require(await a.manager.connections.first as? SwarmConnection)
        await second.waitUntilClosed()
        #expect(b.box.handedOver.withLock { $0.count } == 1, "b never took the banned peer's second connection")
        await a.stop()
        await b.stop()
    }

    /// A peer address that turns out to be this node is dialled once, refused, and never again.
    @Test func anAddressOfOurselvesIsDialledOnce() async throws {
        // A node whose static peer is its own listener.
        let node = try await Node(peersOfItself: true)
        try await Self.waitUntil("the dialler gave up") { await node.manager.finishedDiallers == 1 }
        #expect(await node.manager.diallerCount == 0)
        #expect(await node.manager.connectionCount == 0)
        await node.stop()
    }

    /// The same candidate found twice is dialled by one loop.
    @Test func aCandidateFoundTwiceIsDialledOnce() async throws {
        let b = try await Node()
        let a = try await Node(peers: [b.address, b.address])
        try await Self.waitUntil("one connection") {
            let (x, y) = (await a.manager.connectionCount, await b.manager.connectionCount)
            return x == 1 && y == 1
        }
        #expect(await a.manager.diallerCount == 1)
        #expect(b.box.handedOver.withLock { $0.count } == 1)
        await a.stop()
        await b.stop()
    }

    @Test func shutdownEndsConnectionsCleanly() async throws {
        let a = try await Node(), b = try await Node()
        #expect(try await a.manager.connect(to: b.address) == .connected)
        try await Self.waitUntil("b has it") { await b.manager.connectionCount == 1 }
        let bSide = try #require(await b.manager.connections.first as? SwarmConnection)
        await a.stop()
        await bSide.waitUntilClosed()
        #expect(bSide.peerEndedCleanly)
        #expect(bSide.closeError == nil)
        await b.stop()
    }

    /// Keys found on the DHT that lead nowhere (a flood of announces) cost at most as many diallers as the peer cap:
    /// the rest are dropped until found again. Static peers are not counted.
    @Test func keyDiallersAreCappedAtThePeerCap() async throws {
        /// A dial by key that never completes (until cancelled at shutdown).
        struct Hanging: PeerKeyDialler {
            func connect(toPublicKey key: [UInt8]) async throws -> any PeerConnection {
                try await Task.sleep(for: .seconds(3600))
                throw CancellationError()
            }
        }
        var logger = Logger(label: "test.cap")
        logger.logLevel = .critical
        let keyPair = Ed25519.randomKeyPair()
        let discovery = Node.ManualDiscovery()
        let transport = SwarmTransport(keyPair: keyPair, logger: logger)
        let manager = PeerConnectionManager(
            localKey: keyPair.publicKey, transport: transport, keyDialler: Hanging(), discovery: discovery, maximumPeers: 3,
            logger: logger
        ) { _ in }
        let runner = Task { try? await manager.run() }
        for _ in 0..<10 { discovery.input.yield(PeerCandidate(publicKey: Ed25519.randomKeyPair().publicKey)) }
        // Handled in order: once the static peer's dialler exists, every key candidate before it was decided.
        discovery.input.yield(PeerCandidate(address: PeerAddress(host: "127.0.0.1", port: 1)))
        try await Self.waitUntil("the static peer's dialler") { await manager.diallerCount >= 4 }
        #expect(await manager.diallerCount == 4)
        manager.shutdown()
        await runner.value
        try await transport.shutdown()
    }

    /// A key that cannot be reached is dialled `keyAttempts` times, then given up (until found again).
    @Test func anUnreachableKeyIsGivenUpAfterItsAttempts() async throws {
        final class Failing: PeerKeyDialler {
            let attempts = Mutex(0)
            func connect(toPublicKey key: [UInt8]) async throws -> any PeerConnection {
                attempts.withLock { $0 += 1 }
                throw CancellationError()
            }
        }
        var logger = Logger(label: "test.giveup")
        logger.logLevel = .critical
        let keyPair = Ed25519.randomKeyPair()
        let dialler = Failing()
        let transport = SwarmTransport(keyPair: keyPair, logger: logger)
        let manager = PeerConnectionManager(
            localKey: keyPair.publicKey, transport: transport, keyDialler: dialler, discovery: Node.ManualDiscovery(),
            retry: RetrySchedule(initial: .milliseconds(10), maximum: .milliseconds(20)), keyAttempts: 3, logger: logger
        ) { _ in }
        await manager.dial(PeerCandidate(publicKey: Ed25519.randomKeyPair().publicKey))
        #expect(dialler.attempts.withLock { $0 } == 3)
        try await transport.shutdown()
    }
}

extension PeerConnection {
    var isStillOpen: Bool {
        (self as? SwarmConnection)?.channel.isActive ?? true
    }
}
