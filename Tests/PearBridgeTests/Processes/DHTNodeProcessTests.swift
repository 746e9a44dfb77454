import CompactEncoding
import Foundation
import HyperLog
import NetworkLab
import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import Testing

/// `pearircd dht-node` as a user runs it: two persistent nodes make a private network (the second bootstraps from
/// the first), an in-process gateway finds both and announces through them, another finds the announce; SIGTERM
/// stops both cleanly. Without `--bootstrap` a node would use the public HyperDHT, which tests forbid: it refuses
/// to start, saying why.
@Suite(.serialized) struct DHTNodeProcessTests {
    @Test func twoDHTNodesMakeAPrivateNetworkThatGatewaysUse() async throws {
        let first = try GatewayProcess.launch(["dht-node", "--host", "127.0.0.1", "--port", "0", "--persistent"])
        let firstPort = try await first.port("dht")
        #expect(first.printed.contains("listening dht 127.0.0.1 \(firstPort)"))
        let second = try GatewayProcess.launch([
            "dht-node", "--host", "127.0.0.1", "--port", "0", "--persistent", "--bootstrap", "127.0.0.1:\(firstPort)",
        ])
        let secondPort = try await second.port("dht")
        try await second.waitForOutput(containing: "bootstrapped")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let bootstrap = IPv4Endpoint(host: "127.0.0.1", port: UInt16(firstPort))!
        let gateway = DHTNode(udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: [bootstrap]))
        let other = DHTNode(udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: [bootstrap]))
        try await loop.flatSubmit { gateway.start().and(other.start()).map { _ in } }.get()
        let closest = try await loop.flatSubmit { gateway.findNode(BLAKE2b.hash256(Array("anywhere".utf8))) }.get()
        let expected: Set<IPv4Endpoint> = [bootstrap, IPv4Endpoint(host: "127.0.0.1", port: UInt16(secondPort))!]
        #expect(Set(closest.map(\.from)) == expected)
        #expect(closest.allSatisfy { $0.id == DHTNodeID.of($0.from) })

        let topic = BLAKE2b.hash256(Array("#pearirc".utf8))
        let keys = Ed25519.randomKeyPair()
        #expect(try await loop.flatSubmit { gateway.announce(topic, keyPair: keys) }.get() == 2)
        let found = try await loop.flatSubmit { other.lookup(topic) }.get()
        #expect(found.map(\.publicKey) == [keys.publicKey])

        try await loop.flatSubmit {
            gateway.stop()
            other.stop()
            return gateway.udx.close().and(other.udx.close()).map { _ in }
        }.get()
        try await group.shutdownGracefully()
        for node in [first, second] {
            node.send(signal: SIGTERM)
            #expect(await node.exitStatus(timeout: .seconds(15)) == 0)
        }
    }

    /// `pearircd dht-node --serve-relay` on a test net: it prints its relay key (kept in the data directory, so the
    /// same after a restart), and two firewalled peers that do not punch meet through it by that key.
    @Test func aDHTNodeServesAsARelayUnderAKeyItKeeps() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let arguments = [
                "dht-node", "--host", "127.0.0.1", "--port", "0", "--bootstrap", "127.0.0.1:\(net.bootstrap.port)",
                "--serve-relay", "--data-dir", directory.path,
            ]
            var relay = try GatewayProcess.launch(arguments)
            try await relay.waitForOutput(containing: "relay key ")
            let line = try #require(relay.printed.split(separator: "\n").first { $0.hasPrefix("relay key ") })
            let relayKey = try #require(ZBase32.decode(String(line.dropFirst("relay key ".count))))
            #expect(relayKey.count == 32)

            let peers = try await net.firewalledPeers(2, on: loop)
            let serverKeys = Ed25519.randomKeyPair()
            let served = loop.makePromise(of: HyperDHTConnection.self)
            let server = try await loop.flatSubmit { peers[0].listen(keyPair: serverKeys) { served.succeed($0) } }.get()
            let outgoing = try await loop.flatSubmit {
                peers[1].connect(to: serverKeys.publicKey, relayThrough: [relayKey], holepunch: false, localConnection: false)
            }.get()
            let incoming = try await served.futureResult.get()
            #expect(outgoing.path == .relayed && incoming.path == .relayed)
            outgoing.connection.open(protocol: "pear/echo", id: [1], handshake: Array("through the relay".utf8))
            var events = incoming.connection.events.makeAsyncIterator()
            #expect(await events.next() == .opened(protocol: "pear/echo", id: [1], handshake: Array("through the relay".utf8)))
            outgoing.connection.disconnect()
            incoming.connection.disconnect()
            _ = try await loop.flatSubmit { server.close() }.get()
            try await DHTTestNet.close(peers, on: loop)

            relay.send(signal: SIGTERM)
            #expect(await relay.exitStatus(timeout: .seconds(15)) == 0)
            // Restarted, the relay keeps its key.
            relay = try GatewayProcess.launch(arguments)
            try await relay.waitForOutput(containing: "relay key ")
            #expect(relay.printed.contains("relay key \(ZBase32.encode(relayKey))"))
            relay.send(signal: SIGTERM)
            #expect(await relay.exitStatus(timeout: .seconds(15)) == 0)
        }
    }

    @Test func withoutABootstrapNodeATestNeverReachesThePublicNetwork() async throws {
        let node = try GatewayProcess.launch(["dht-node", "--host", "127.0.0.1", "--port", "0"])
        let status = await node.exitStatus(timeout: .seconds(15))
        #expect(status != nil && status != 0)
        #expect(node.printed.contains("PEARIRC_FORBID_PUBLIC_BOOTSTRAP"))
        #expect(!node.printed.contains("listening dht"))
    }
}
