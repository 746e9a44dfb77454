import CompactEncoding
import Foundation
import Logging
import NIOCore
import Sodium
import SwarmEngine
import Synchronization

/// Connections by public key between hosts of a `NATLab`, one pair at a time: a server on one host announces its
/// key through the lab's DHT, a client on another connects to it, and each sends the other a message. Used by
/// `NATMatrixTests` (a subset, in CI) and `pear-bench nat-matrix` (all 25 pairs, several runs: docs/nat-matrix.md).
public enum NATMatrix {
    public struct Pair: Sendable, Hashable, CustomStringConvertible {
        public var client: NATLab.HostKind
        public var server: NATLab.HostKind
        public init(client: NATLab.HostKind, server: NATLab.HostKind) {
            self.client = client
            self.server = server
        }
        public var description: String { "\(client.rawValue) → \(server.rawValue)" }

        public static var all: [Pair] {
            NATLab.HostKind.allCases.flatMap { client in NATLab.HostKind.allCases.map { Pair(client: client, server: $0) } }
        }
    }

    public struct Result: Sendable {
        public var pair: Pair
        /// How the connection was made (the path it was made on), as the client saw it; nil when it was not.
        public var path: HyperDHTConnection.Path?
        public var serverPath: HyperDHTConnection.Path?
        public var error: String?
        /// From the client's `connect` to the server's first message arriving.
        public var timeToFirstByte: Duration?
        /// Datagrams both peers sent, DHT traffic, probes and the messages included.
        public var datagrams: Int
        /// A relayed connection that moved to a punched path: how long after it was relayed, and whether messages
        /// then crossed it both ways.
        public var movedToPunchedAfter: Duration?
        public var movedStreamCarries = false
    }

    /// Logs the peers' connecting (hole punching at debug level with `NAT_MATRIX_LOG=debug`).
    static var logger: Logger {
        var logger = Logger(label: "nat-matrix")
        logger.logLevel = ProcessInfo.processInfo.environment["NAT_MATRIX_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }

    /// The DHT of the lab's internet: six persistent nodes (hyperdht's punching needs more than three, notes §7).
    public static let internetNodes = 6

    /// Runs `pairs` on one lab made for them (two hosts of each kind they need), `timeout` each; `progress` sees
    /// each result as it comes.
    /// Who is given the lab's blind relay (its node is one of the internet's): both peers (the client's relay is
    /// used when punching fails), the server alone (it names it to the client, and both pair there at once while
    /// punching goes on, as the reference does; the stream moves to the punched path when punching succeeds), or
    /// nobody.
    public enum RelayPlacement: Sendable { case both, server, none }

    /// `upgradeWait`: how long a relayed connection is watched for its move to a punched path (then a message each
    /// way goes over the new path).
    /// Where the server is when not in a home of its own: on the client's host, or on another host of the client's
    /// home network (behind the same NAT, which does not hairpin: only their local addresses connect them).
    public enum Neighbourhood: Sendable { case apart, sameHost, sameNetwork }

    public static func run(
        _ pairs: [Pair], relays placement: RelayPlacement = .both, upgradeWait: Duration = .zero,
        neighbourhood: Neighbourhood = .apart,
        timeout: Duration = .seconds(30), progress: (Result) -> Void = { _ in }
    ) async throws -> [Result] {
        let lab = try await NATLab.start(internetHosts: internetNodes)
        var results: [Result] = []
        var failure: (any Error)?
        var net: DHTTestNet?
        var relay: BlindRelayServer?
        do {
            net = try await DHTTestNet.start(size: internetNodes, on: lab.internet.loop, host: NATLab.internetAddress)
            // One of the internet's nodes is also a blind relay, which both peers of every pair are given.
            let relayNode = net!.nodes.last!
            let relayKeys = Ed25519.randomKeyPair()
            relay = try await lab.internet.loop.flatSubmit { BlindRelayServer.start(on: relayNode, keyPair: relayKeys) }.get()
            let kinds = Set(pairs.flatMap { [$0.client, $0.server] })
            var hosts: [NATLab.HostKind: [NATLab.Host]] = [:]
            for kind in NATLab.HostKind.allCases where kinds.contains(kind) {
                let first = try lab.addHost(kind)
                switch neighbourhood {
                case .apart: hosts[kind] = [first, try lab.addHost(kind)]
                case .sameHost: hosts[kind] = [first, first]
                case .sameNetwork: hosts[kind] = [first, try lab.addNeighbour(of: first)]
                }
            }
            for pair in pairs {
                let result = try await run(
                    pair, client: hosts[pair.client]![0], server: hosts[pair.server]![1], bootstrap: net!.bootstrap,
                    placement: placement, relay: relay!.keyPair.publicKey, upgradeWait: upgradeWait, timeout: timeout)
                progress(result)
                results.append(result)
            }
        } catch {
            failure = error
        }
        if let relay { _ = try? await lab.internet.loop.flatSubmit { relay.close() }.get() }
        if let net { try? await DHTTestNet.close(net.nodes, on: lab.internet.loop) }
        await lab.remove()
        if let failure { throw failure }
        return results
    }

    private struct Side {
        let node: DHTNode
        let loop: any EventLoop
        static func start(on host: NATLab.Host, bootstrap: IPv4Endpoint) async throws -> Side {
            let loop = host.namespace.loop
            let node = DHTNode(udx: UDXNode(eventLoop: loop), configuration: .init(host: host.address, bootstrap: [bootstrap]))
            try await loop.flatSubmit { node.start().flatMap { node.bootstrap() } }.get()
            return Side(node: node, loop: loop)
        }
        func close() async {
            try? await loop.flatSubmit {
                node.stop()
                return node.udx.close()
            }.get()
        }
    }

    private static func run(
        _ pair: Pair, client clientHost: NATLab.Host, server serverHost: NATLab.Host, bootstrap: IPv4Endpoint,
        placement: RelayPlacement, relay: [UInt8], upgradeWait: Duration, timeout: Duration
    ) async throws -> Result {
        let serverRelays = placement == .none ? [] : [relay]
        let clientRelays = placement == .both ? [relay] : []
        let serverSide = try await Side.start(on: serverHost, bootstrap: bootstrap)
        let clientSide = try await Side.start(on: clientHost, bootstrap: bootstrap)
        let serverKeys = Ed25519.randomKeyPair()
        var logger = Self.logger
        logger[metadataKey: "pair"] = "\(pair)"
        let accepted = serverSide.loop.makePromise(of: HyperDHTConnection.self)
        var result = Result(pair: pair, datagrams: 0)
        // Every connection made, ended at the deadline or at the end (a connect that completes after the deadline
        // is ended as it completes): nothing waits past `timeout`.
        let made = Made()
        var server: HyperDHTServer?
        do {
            server = try await serverSide.loop.flatSubmit {
                serverSide.node.listen(keyPair: serverKeys, relayThrough: serverRelays, logger: logger) { made.add($0); accepted.succeed($0) }
            }.get()
            let connected = clientSide.loop.makePromise(of: HyperDHTConnection.self)
            let start = ContinuousClock.now
            let deadline = try await clientSide.loop.submit {
                clientSide.node.connect(to: serverKeys.publicKey, relayThrough: clientRelays, logger: logger).map { made.add($0); return $0 }.cascade(to: connected)
                return clientSide.loop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
                    made.expire()
                    connected.fail(Made.Expired())
                    accepted.fail(Made.Expired())
                }
            }.get()
            defer { deadline.cancel() }
            let outgoing = try await connected.futureResult.get()
            let incoming = try await accepted.futureResult.get()
            incoming.connection.open(protocol: "pear/echo", id: [1], handshake: Array("server".utf8))
            incoming.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("from the server".utf8))
            outgoing.connection.open(protocol: "pear/echo", id: [1], handshake: Array("client".utf8))
            outgoing.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("from the client".utf8))
            try await firstMessage(on: outgoing.connection, equal: "from the server")
            result.timeToFirstByte = ContinuousClock.now - start
            try await firstMessage(on: incoming.connection, equal: "from the client")
            result.path = outgoing.firstPath
            result.serverPath = incoming.firstPath
            if outgoing.firstPath == .relayed, upgradeWait > .zero {
                let relayedAt = ContinuousClock.now
                while ContinuousClock.now - relayedAt < upgradeWait, outgoing.path != .punched || incoming.path != .punched {
                    try await Task.sleep(for: .milliseconds(10))
                }
                if outgoing.path == .punched, incoming.path == .punched {
                    result.movedToPunchedAfter = ContinuousClock.now - relayedAt
                    // The moved stream still carries both ways.
                    incoming.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("moved, server".utf8))
                    outgoing.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("moved, client".utf8))
                    try await firstMessage(on: outgoing.connection, equal: "moved, server")
                    try await firstMessage(on: incoming.connection, equal: "moved, client")
                    result.movedStreamCarries = true
                }
            }
        } catch {
            result.error = error is Made.Expired ? "no connection within \(timeout)" : "\(error)"
            result.timeToFirstByte = nil
        }
        made.expire()
        accepted.fail(Made.Expired())
        let clientSent = try await clientSide.loop.submit { clientSide.node.udx.datagramsSent }.get()
        let serverSent = try await serverSide.loop.submit { serverSide.node.udx.datagramsSent }.get()
        result.datagrams = clientSent + serverSent
        if let server { _ = try? await serverSide.loop.flatSubmit { server.close() }.get() }
        await clientSide.close()
        await serverSide.close()
        return result
    }

    /// The connections of one pair, so that all of them end.
    private final class Made: Sendable {
        struct Expired: Error {}
        private let state = Mutex<(expired: Bool, connections: [HyperDHTConnection])>((false, []))

        func add(_ connection: HyperDHTConnection) {
            let expired = state.withLock { state in
                if !state.expired { state.connections.append(connection) }
                return state.expired
            }
            if expired { connection.connection.disconnect() }
        }

        func expire() {
            let connections = state.withLock { state in
                state.expired = true
                defer { state.connections = [] }
                return state.connections
            }
            for connection in connections { connection.connection.disconnect() }
        }
    }

    /// Waits for the protomux message `text` on the connection's "pear/echo" channel.
    private static func firstMessage(on connection: SwarmConnection, equal text: String) async throws {
        for await event in connection.events {
            if case .message(_, _, _, let message) = event, message == Array(text.utf8) { return }
            if case .disconnected = event { break }
        }
        throw HyperDHTConnectError.holepunchAborted
    }
}
