import CompactEncoding
import Foundation
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

    @Test func withoutABootstrapNodeATestNeverReachesThePublicNetwork() async throws {
        let node = try GatewayProcess.launch(["dht-node", "--host", "127.0.0.1", "--port", "0"])
        let status = await node.exitStatus(timeout: .seconds(15))
        #expect(status != nil && status != 0)
        #expect(node.printed.contains("PEARIRC_FORBID_PUBLIC_BOOTSTRAP"))
        #expect(!node.printed.contains("listening dht"))
    }
}
