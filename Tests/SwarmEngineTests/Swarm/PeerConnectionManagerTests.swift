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

        init(peers: [PeerAddress] = [], listenPort: Int = 0) async throws {
            var logger = Logger(label: "test.manager")
            logger.logLevel = .critical
            transport = SwarmTransport(keyPair: keyPair, logger: logger)
            let box = Box()
            manager = PeerConnectionManager(
                localKey: keyPair.publicKey, transport: transport, discovery: StaticPeerDiscovery(peers),
                retry: RetrySchedule(initial: .milliseconds(50), maximum: .milliseconds(200)), logger: logger
            ) { connection in
                box.handedOver.withLock { $0.append(connection) }
                // Consume the events, as the gateway would.
                Task { for await _ in connection.events {} }
            }
            let manager = self.manager
            port = try await transport.listen(host: "127.0.0.1", port: listenPort) { connection in manager.accepted(connection) }
            runner = Task { try? await manager.run() }
            self.box = box
        }

        /// Every connection handed over (kept), in order.
        final class Box: Sendable {
            let handedOver = Mutex<[any PeerConnection]>([])
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
        // Which one stays depends on the key order; either way one stays and it is the same on both sides.
        let aFirst = a.keyPair.publicKey.lexicographicallyPrecedes(b.keyPair.publicKey)
        #expect(backward == (aFirst ? .alreadyConnected : .connected))
        try await Self.waitUntil("one shared connection") {
            let (x, y) = (await a.keptHashes, await b.keptHashes)
            return x.count == 1 && x == y
        }
        // Settled: the duplicate was ended on both sides and nothing else appears.
        try await Self.waitUntil("the duplicate closed") {
            let all = a.box.handedOver.withLock { $0 } + b.box.handedOver.withLock { $0 }
            let open = all.filter(\.isStillOpen)
            return open.count == 2
        }
        await a.stop()
        await b.stop()
    }

    /// Static peers pointing at each other dial at the same moment; the race still ends in one shared connection.
    @Test func staticPeersRacingEachOtherEndWithOneConnection() async throws {
        // Listen first so each knows the other's port, then start managers that dial at once.
        let a = try await Node()
        let b = try await Node(peers: [a.address])
        _ = try await a.manager.connect(to: b.address)
        try await Self.waitUntil("one shared connection") {
            let (x, y) = (await a.keptHashes, await b.keptHashes)
            return x.count == 1 && x == y
        }
        await a.stop()
        await b.stop()
    }

    @Test func aBannedPeerIsRefusedAndDisconnected() async throws {
        let a = try await Node(), b = try await Node()
        #expect(try await a.manager.connect(to: b.address) == .connected)
        b.manager.ban(a.keyPair.publicKey, reason: "test")
        try await Self.waitUntil("the banned peer is dropped") { await b.manager.connectionCount == 0 }
        let again = try await a.manager.connect(to: b.address)
        // a keeps its side until it sees the close; b refuses the new connection at once.
        try await Self.waitUntil("b still refuses") { await b.manager.connectionCount == 0 }
        #expect(again == .connected || again == .alreadyConnected)
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
}

extension PeerConnection {
    var isStillOpen: Bool {
        (self as? SwarmConnection)?.channel.isActive ?? true
    }
}
