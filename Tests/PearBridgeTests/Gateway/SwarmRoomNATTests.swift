import CompactEncoding
import Foundation
import IRCServer
import Logging
import NIOCore
import NetworkLab
import Sodium
import SwarmEngine
import Testing

@testable import PearBridge

/// Swarm rooms across NATs built in network namespaces (`NATLab`, the NAT matrix's topology: a 20.0.0.0/8
/// "internet" with six DHT nodes, homes behind routers): gateways given nothing but the lab's bootstrap node chat by
/// room name. Two behind different NATs punch through; two behind randomising NATs, which cannot punch, meet through
/// a third member of the room that is reachable and offers its blind relay (`pearirc/relay/v1`).
@Suite(.serialized) struct SwarmRoomNATTests {
    static let skip = NATLab.unavailable

    /// A gateway node (rooms, DHT swarm, connection manager) on a lab host, driven through its IRC adapter's
    /// requests and seen through its events.
    final class LabGateway: Sendable {
        let directory: DataDirectory
        let node: GatewayNode
        let backend: GatewayBackend
        let recorder: EventRecorder
        let runners: [Task<Void, Never>]

        init(_ name: String, on host: NATLab.Host, bootstrap: IPv4Endpoint, relaying: Bool) async throws {
            directory = DataDirectory(
                url: FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-nat-\(name)-\(UUID().uuidString)"))
            let identity = try Identity.loadOrCreate(in: directory)
            var logger = Logger(label: "test.nat.\(name)")
            logger.logLevel = ProcessInfo.processInfo.environment["SWARM_NAT_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
            var configuration = GatewayNode.Configuration()
            var dht = DHTSwarm.Configuration(host: host.address, port: 0, bootstrap: [bootstrap])
            dht.retry = .milliseconds(500)
            if relaying { dht.relayService = .init(keyPair: Ed25519.randomKeyPair(), limits: .init()) }
            configuration.dht = dht
            configuration.retry = RetrySchedule(initial: .milliseconds(500), maximum: .seconds(4))
            node = try GatewayNode(directory: directory, identity: identity, configuration: configuration, group: host.namespace.loop, logger: logger)
            let node = self.node
            runners = [Task { _ = try? await node.gateway.run() }, Task { _ = try? await node.connections.run() }]
            _ = try await node.startSwarm()
            backend = GatewayBackend(gateway: node.gateway, connector: nil)
            recorder = EventRecorder(backend)
        }

        var key: [UInt8] { node.gateway.identity.keyPair.publicKey }

        func handle(_ request: BackendRequest) async {
            guard let request = GatewayBackend.gatewayRequest(for: request) else { return }
            await node.gateway.handle(request)
        }

        func join(_ channel: String, as nick: String) async { await handle(.joined(channel: channel, nick: nick)) }

        func say(_ channel: String, _ text: String, as nick: String) async {
            await handle(.message(channel: channel, nick: nick, kind: .privmsg, text: text, id: "m\(UUID().uuidString.prefix(8))", time: Date()))
        }

        /// How this gateway's connection to `peer` runs, once there is one.
        func path(to peer: LabGateway) async -> String? {
            await node.gateway.peers.first { $0.people.contains(peer.key) }?.path.kind
        }

        func close() async {
            node.connections.shutdown()
            await runners[1].value
            node.gateway.shutdown()
            await runners[0].value
            await node.swarm?.close()
            try? FileManager.default.removeItem(at: directory.url)
        }
    }

    /// A lab with its internet's six DHT nodes; `body` gets the bootstrap node; everything is removed afterwards.
    static func withLab(_ body: (NATLab, IPv4Endpoint) async throws -> Void) async throws {
        let lab = try await NATLab.start(internetHosts: 6)
        var failure: (any Error)?
        var net: DHTTestNet?
        do {
            net = try await DHTTestNet.start(size: 6, on: lab.internet.loop, host: NATLab.internetAddress)
            try await body(lab, net!.bootstrap)
        } catch {
            failure = error
        }
        if let net { try? await DHTTestNet.close(net.nodes, on: lab.internet.loop) }
        await lab.remove()
        if let failure { throw failure }
    }

    @Test(.enabled(if: skip == nil, "network namespaces unavailable: \(skip ?? "")"))
    func gatewaysBehindDifferentNATsChatByRoomName() async throws {
        try await Self.withLab { lab, bootstrap in
            let a = try await LabGateway("a", on: try lab.addHost(.consistent), bootstrap: bootstrap, relaying: true)
            let b = try await LabGateway("b", on: try lab.addHost(.random), bootstrap: bootstrap, relaying: true)
            await a.join("#nat", as: "alice")
            await b.join("#nat", as: "bob")
            await a.say("#nat", "hello through two NATs", as: "alice")
            _ = try await b.recorder.message("hello through two NATs", timeout: .seconds(40))
            await b.say("#nat", "and back", as: "bob")
            _ = try await a.recorder.message("and back", timeout: .seconds(40))
            let path = await a.path(to: b)
            #expect(path == "punched", "a consistent and a randomising NAT punch through (got \(path ?? "none"))")
            await a.close()
            await b.close()
        }
    }

    @Test(.enabled(if: skip == nil, "network namespaces unavailable: \(skip ?? "")"))
    func gatewaysBehindRandomisingNATsMeetThroughARoomPeersRelay() async throws {
        try await Self.withLab { lab, bootstrap in
            // The reachable member: its relay is up before the others arrive, so they learn it on connecting.
            let c = try await LabGateway("c", on: try lab.addHost(.open), bootstrap: bootstrap, relaying: true)
            await c.join("#relay", as: "carol")
            let offered = try await Self.eventually("c relays") { await c.node.swarm?.servedRelayKey != nil }
            #expect(offered)
            let a = try await LabGateway("a", on: try lab.addHost(.random), bootstrap: bootstrap, relaying: true)
            let b = try await LabGateway("b", on: try lab.addHost(.random), bootstrap: bootstrap, relaying: true)
            await a.join("#relay", as: "alice")
            await b.join("#relay", as: "bob")
            await a.say("#relay", "hello through carol's relay", as: "alice")
            _ = try await b.recorder.message("hello through carol's relay", timeout: .seconds(60))
            // The line may have come through C (it replicates every writer of the room); the direct connection
            // between A and B is what the relay makes: relayed, as two randomising NATs cannot punch.
            let relayed = try await Self.eventually("a and b connected") { await a.path(to: b) == "relayed" }
            let path = await a.path(to: b)
            #expect(relayed, "A reaches B through C's relay (path: \(path ?? "none"))")
            // Neither randomising gateway offers a relay: they cannot be reached.
            let aRelays = await a.node.swarm?.servedRelayKey
            #expect(aRelays == nil)
            await b.say("#relay", "and back the same way", as: "bob")
            _ = try await a.recorder.message("and back the same way", timeout: .seconds(30))
            await a.close()
            await b.close()
            await c.close()
        }
    }

    /// Waits until `condition` holds (what it looks at changes as peers connect), up to `timeout`; false if never.
    static func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
