import ArgumentParser
import CompactEncoding
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwarmEngine

/// `pearircd dht-node`: a plain HyperDHT node, for a private network or a test net (and, on a public host with
/// `--persistent`, a full node of the public network).
struct DHTNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht-node",
        abstract: "Run a plain HyperDHT node.",
        discussion: """
            Prints "listening dht HOST PORT" once its socket is bound. Without --bootstrap a node joins the public \
            HyperDHT (its bootstrap nodes); with --persistent and no --bootstrap it is the first node of a network \
            of its own, as hyperdht's bootstrapper.
            """)

    @Option(help: "Address to bind; a persistent node must give the address others reach it at.")
    var host = "0.0.0.0"

    @Option(help: "UDP port (0 picks a free one).")
    var port = DHTBootstrapNodes.defaultPort

    @Option(name: .customLong("bootstrap"), help: "A node to bootstrap from, HOST:PORT (repeatable).")
    var bootstrap: [String] = []

    @Flag(help: "Persistent from the start: stores records and is added to other nodes' tables.")
    var persistent = false

    func validate() throws {
        if persistent, IPv4Endpoint(host: host, port: 0)?.address ?? 0 == 0 {
            throw ValidationError("--persistent needs the concrete address others reach this node at (--host)")
        }
        for entry in bootstrap where Self.endpoint(entry) == nil {
            throw ValidationError("--bootstrap \(entry): expected IPv4-HOST:PORT")
        }
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
        let service = DHTNodeService(
            node: DHTNode(
                udx: UDXNode(eventLoop: group.next()),
                configuration: .init(host: host, port: port, bootstrap: nodes, persistent: persistent)),
            logger: logger)
        try await ShutdownSequence.run(services: [service], logger: logger)
        try await group.shutdownGracefully()
    }
}

/// Runs a `DHTNode` until shutdown: binds, says where, bootstraps, and on shutdown stops and closes its sockets.
struct DHTNodeService: Service {
    let node: DHTNode
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
        try? await gracefulShutdown()
        try await loop.flatSubmit {
            node.stop()
            return node.udx.close()
        }.get()
    }
}
