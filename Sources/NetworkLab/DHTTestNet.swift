import CompactEncoding
import NIOCore
import NIOPosix
import SwarmEngine

/// A test net of persistent `DHTNode`s on 127.0.0.1, all on one event loop: the first is the network's bootstrap
/// node, each further node bootstraps from it before the next starts (as hyperdht's `createTestnet`). For the DHT
/// tests and `pear-bench dht`; never contacts anything but 127.0.0.1.
public struct DHTTestNet: Sendable {
    public let nodes: [DHTNode]
    public let bootstrap: IPv4Endpoint

    /// `storeClock`: the clock the nodes' record stores age by (uptime milliseconds unless a test moves it).
    /// `host`: the address node `index` binds to (all on 127.0.0.1 unless a network namespace gives them others).
    public static func start(
        size: Int, on loop: any EventLoop, storeClock: (@Sendable () -> UInt64)? = nil,
        host: (Int) -> String = { _ in "127.0.0.1" }
    ) async throws -> DHTTestNet {
        func configuration(_ index: Int, _ bootstrap: [IPv4Endpoint]) -> DHTNode.Configuration {
            var configuration = DHTNode.Configuration(host: host(index), bootstrap: bootstrap, persistent: true)
            if let storeClock { configuration.storeClock = storeClock }
            return configuration
        }
        let first = DHTNode(udx: UDXNode(eventLoop: loop), configuration: configuration(0, []))
        try await loop.flatSubmit { first.start() }.get()
        let bootstrap = try await loop.submit { first.address! }.get()
        var nodes = [first]
        for index in 1..<size {
            let node = DHTNode(udx: UDXNode(eventLoop: loop), configuration: configuration(index, [bootstrap]))
            try await loop.flatSubmit { node.start().flatMap { node.bootstrap() } }.get()
            nodes.append(node)
        }
        return DHTTestNet(nodes: nodes, bootstrap: bootstrap)
    }

    /// Runs `body` with a net of `size` nodes on an event loop of its own and `clients` further (adaptive) nodes on
    /// 127.0.0.1, started and bootstrapped from the net; then closes every node and the loop, also when `body`
    /// throws.
    public static func run(
        size: Int, clients: Int = 0, storeClock: (@Sendable () -> UInt64)? = nil,
        _ body: (DHTTestNet, [DHTNode], any EventLoop) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let net: DHTTestNet
        do {
            net = try await start(size: size, on: loop, storeClock: storeClock)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let others = (0..<clients).map { _ in
            DHTNode(udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: [net.bootstrap]))
        }
        var failure: (any Error)?
        do {
            try await loop.flatSubmit {
                EventLoopFuture.andAllSucceed(others.map { node in node.start().flatMap { node.bootstrap() } }, on: loop)
            }.get()
            try await body(net, others, loop)
        } catch {
            failure = error
        }
        try await close(net.nodes + others, on: loop)
        try await group.shutdownGracefully()
        if let failure { throw failure }
    }

    /// `count` nodes started and bootstrapped from the net on `loop` that stay firewalled (ephemeral, no quick
    /// firewall check), as hyperdht's own "force holepunch" test makes them: on 127.0.0.1 neither offers itself as
    /// reachable, so two of them punch (or relay) to connect. The caller closes them (`close`).
    public func firewalledPeers(_ count: Int, on loop: any EventLoop) async throws -> [DHTNode] {
        let peers = (0..<count).map { _ in
            var configuration = DHTNode.Configuration(host: "127.0.0.1", bootstrap: [bootstrap], ephemeral: true)
            configuration.quickFirewall = false
            return DHTNode(udx: UDXNode(eventLoop: loop), configuration: configuration)
        }
        try await loop.flatSubmit {
            EventLoopFuture.andAllSucceed(peers.map { node in node.start().flatMap { node.bootstrap() } }, on: loop)
        }.get()
        return peers
    }

    /// Stops `nodes` (the net's and any others on the same loop) and closes their sockets.
    public static func close(_ nodes: [DHTNode], on loop: any EventLoop) async throws {
        try await loop.flatSubmit {
            var closing: [EventLoopFuture<Void>] = []
            for node in nodes {
                node.stop()
                closing.append(node.udx.close())
            }
            return EventLoopFuture.andAllComplete(closing, on: loop)
        }.get()
    }
}
