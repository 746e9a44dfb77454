import ArgumentParser
import CompactEncoding
import Foundation
import Logging
import NIOCore
import NIOPosix
import HyperLog
import PearBridge
import ServiceLifecycle
import Sodium
import SwarmEngine

/// `pearircd dht-node`: a plain HyperDHT node, for a private network or a test net (and, on a public host with
/// `--persistent`, a full node of the public network); with `--serve-relay` also a blind relay that peers who cannot
/// punch through their NATs meet through.
struct DHTNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht-node",
        abstract: "Run a plain HyperDHT node.",
        discussion: """
            Prints "listening dht HOST PORT" once its socket is bound. Without --bootstrap a node joins the public \
            HyperDHT (its bootstrap nodes); with --persistent and no --bootstrap it is the first node of a network \
            of its own, as hyperdht's bootstrapper. With --serve-relay it is also a blind relay (blind-relay 1.6, \
            hyperdht's relayThrough) under a key kept in the data directory (relay.key), and prints \
            "relay key KEY" once announced: give that key to peers with --relay. The relay forwards encrypted \
            packets it cannot read, within --relay-max-pairs pairs and --relay-max-rate.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Address to bind; a persistent node must give the address others reach it at.")
    var host = "0.0.0.0"

    @Option(help: "UDP port (0 picks a free one).")
    var port = DHTBootstrapNodes.defaultPort

    @Option(name: .customLong("bootstrap"), help: "A node to bootstrap from, HOST:PORT (repeatable).")
    var bootstrap: [String] = []

    @Flag(help: "Persistent from the start: stores records and is added to other nodes' tables.")
    var persistent = false

    @Flag(name: .customLong("serve-relay"), help: "Also serve as a blind relay for peers that cannot punch through.")
    var serveRelay = false

    @Option(name: .customLong("relay-max-pairs"), help: "Pairs of peers relayed at once.")
    var relayMaxPairs = 256

    @Option(name: .customLong("relay-max-rate"), help: "Relayed bytes per second over all pairs, e.g. 16M.")
    var relayMaxRate = "16M"

    func validate() throws {
        if persistent, IPv4Endpoint(host: host, port: 0)?.address ?? 0 == 0 {
            throw ValidationError("--persistent needs the concrete address others reach this node at (--host)")
        }
        for entry in bootstrap where Self.endpoint(entry) == nil {
            throw ValidationError("--bootstrap \(entry): expected IPv4-HOST:PORT")
        }
        guard relayMaxPairs > 0 else { throw ValidationError("--relay-max-pairs must be at least 1") }
        guard let rate = ByteSize(relayMaxRate)?.bytes, rate >= 1024 else {
            throw ValidationError("--relay-max-rate \(relayMaxRate): expected a size of at least 1K, e.g. 16M")
        }
        _ = rate
    }

    static func endpoint(_ text: String) -> IPv4Endpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        return IPv4Endpoint(host: String(text[..<colon]), port: port)
    }

    func run() async throws {
        let logger = Logger(label: "pearircd.dht")
        let nodes = try DHTBootstrapNodes.resolve(
            given: bootstrap.compactMap(Self.endpoint), persistent: persistent,
            environment: ProcessInfo.processInfo.environment)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var relay: DHTNodeService.Relay?
        if serveRelay {
            let identity = try Identity.loadOrCreate(in: common.resolvedDataDirectory, fileName: "relay.key")
            var limits = BlindRelayServer.Limits()
            limits.pairing.links = relayMaxPairs
            limits.bytesPerSecond = ByteSize(relayMaxRate)?.bytes ?? limits.bytesPerSecond
            relay = .init(keyPair: identity.keyPair, limits: limits)
        }
        let service = DHTNodeService(
            node: DHTNode(
                udx: UDXNode(eventLoop: group.next()),
                configuration: .init(host: host, port: port, bootstrap: nodes, persistent: persistent)),
            relay: relay, logger: logger)
        try await ShutdownSequence.run(services: [service], logger: logger)
        try await group.shutdownGracefully()
    }
}

/// Runs a `DHTNode` until shutdown: binds, says where, bootstraps, and on shutdown stops and closes its sockets.
struct DHTNodeService: Service {
    struct Relay {
        var keyPair: Ed25519.KeyPair
        var limits: BlindRelayServer.Limits
    }

    let node: DHTNode
    var relay: Relay? = nil
    let logger: Logger

    func run() async throws {
        let loop = node.eventLoop
        try await loop.flatSubmit { node.start() }.get()
        let address = try await loop.submit { node.address }.get()
        print("listening dht \(address?.host ?? "?") \(address?.port ?? 0)")
        fflushStandardOutput()
        if !node.configuration.bootstrap.isEmpty {
            do {
                try await loop.flatSubmit { node.bootstrap() }.get()
                let known = try await loop.submit { node.table.count }.get()
                logger.info("bootstrapped", metadata: ["nodes": "\(known)"])
            } catch {
                logger.warning("bootstrap failed: nobody answered", metadata: ["error": "\(error)"])
            }
        }
        var server: BlindRelayServer?
        if let relay {
            do {
                server = try await loop.flatSubmit {
                    BlindRelayServer.start(on: node, keyPair: relay.keyPair, limits: relay.limits, logger: logger)
                }.get()
                print("relay key \(ZBase32.encode(relay.keyPair.publicKey))")
                fflushStandardOutput()
            } catch {
                logger.error("relay: could not announce the relay key", metadata: ["error": "\(error)"])
                throw error
            }
        }
        try? await gracefulShutdown()
        if let server { _ = try? await loop.flatSubmit { server.close() }.get() }
        try await loop.flatSubmit {
            node.stop()
            return node.udx.close()
        }.get()
    }
}
