import CompactEncoding
import NIOCore
import NIOPosix
import NetworkLab
import Testing

@testable import SwarmEngine

/// dht-rpc's adaptive mode on real sockets, with the node's tick shortened to 10 ms so that the 240 quiet ticks take
/// seconds: a node others can reach at its server socket stops being firewalled during its bootstrap, becomes
/// persistent after the quiet ticks, and then enters the other nodes' tables; a node whose server socket nobody can
/// reach (an iptables rule in a namespace of the test's own) stays firewalled and ephemeral, and in nobody's table.
@Suite(.serialized) struct DHTAdaptiveModeTests {
    static func adaptiveNode(on loop: any EventLoop, bootstrap: IPv4Endpoint) -> DHTNode {
        var configuration = DHTNode.Configuration(host: "127.0.0.1", bootstrap: [bootstrap])
        configuration.tickInterval = .milliseconds(10)
        return DHTNode(udx: UDXNode(eventLoop: loop), configuration: configuration)
    }

    @Test func aReachableNodeBecomesPersistent() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let net = try await DHTTestNet.start(size: 6, on: loop)
        let node = Self.adaptiveNode(on: loop, bootstrap: net.bootstrap)
        let persistent = loop.makePromise(of: Void.self)
        try await loop.flatSubmit {
            node.onNetworkUpdate = { node in if node.isPersistent { persistent.succeed() } }
            return node.start().flatMap { node.bootstrap() }
        }.get()
        let afterBootstrap = try await loop.submit { (node.isFirewalled, node.isPersistent, node.remoteAddress, node.address) }
            .get()
        // The quick check at bootstrap: answers reach the server socket, so not firewalled; still ephemeral.
        #expect(afterBootstrap.0 == false)
        #expect(afterBootstrap.1 == false)
        #expect(afterBootstrap.2 == afterBootstrap.3)

        let timeout = loop.scheduleTask(in: .seconds(30)) { persistent.fail(DHTNode.Failure.nobodyAnswered) }
        try await persistent.futureResult.get()
        timeout.cancel()
        let (id, address) = try await loop.submit { (node.id, node.address!) }.get()
        #expect(id == DHTNodeID.of(address))
        let nat = try await loop.flatSubmit { node.sampleFirewall() }.get()
        #expect(nat.firewall == .open)
        // Now it sends its id: a walk puts it into the tables of the nodes it asks.
        _ = try await loop.flatSubmit { node.findNode(id) }.get()
        let known = try await loop.submit { net.nodes.filter { $0.table.node(id) != nil }.count }.get()
        #expect(known >= 5)

        try await DHTTestNet.close(net.nodes + [node], on: loop)
        try await group.shutdownGracefully()
    }

    @Test func aNodeNobodyCanReachStaysEphemeral() async throws {
        if let reason = NetworkNamespace.unavailable {
            print("skipped: network namespaces are unavailable: \(reason)")
            return
        }
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace()
        } catch {
            print("skipped: could not set up a network namespace: \(error)")
            return
        }
        let loop = namespace.loop
        do {
            let net = try await namespace.within { try await DHTTestNet.start(size: 6, on: loop) }
            let node = Self.adaptiveNode(on: loop, bootstrap: net.bootstrap)
            try await namespace.within { try await loop.flatSubmit { node.start() }.get() }
            let serverPort = try await loop.submit { node.address!.port }.get()
            // Nothing reaches its server socket: the firewall of a NAT that maps no port for it.
            try namespace.iptables("-A", "INPUT", "-p", "udp", "--dport", String(serverPort), "-j", "DROP")
            // Past the 240 quiet ticks, its check fails (every PING_NAT answer is dropped on the way in); then it
            // is still firewalled and ephemeral and in nobody's table.
            let checked = loop.makePromise(of: Void.self)
            try await loop.flatSubmit {
                node.onNetworkUpdate = { _ in checked.succeed() }
                return node.bootstrap()
            }.get()
            let timeout = loop.scheduleTask(in: .seconds(30)) { checked.fail(DHTNode.Failure.nobodyAnswered) }
            try await checked.futureResult.get()
            timeout.cancel()
            let state = try await loop.submit { (node.isFirewalled, node.isPersistent, node.remoteAddress, node.id) }.get()
            #expect(state.0)
            #expect(state.1 == false)
            #expect(state.2 == nil)
            let known = try await loop.submit { net.nodes.filter { $0.table.node(state.3) != nil }.count }.get()
            #expect(known == 0)
            // Its NAT, as hyperdht classifies it: every node sees its client socket at one address, so consistent.
            // (The check's unanswered PING_NATs took their nodes out of its table, as in the reference: a walk
            // refills it first.)
            _ = try await loop.flatSubmit { node.findNode(node.id) }.get()
            let nat = try await loop.flatSubmit { node.sampleFirewall() }.get()
            let clientAddress = try await loop.submit {
                IPv4Endpoint(host: "127.0.0.1", port: UInt16(node.clientSocket!.localAddress!.port!))!
            }.get()
            #expect(nat.firewall == .consistent)
            #expect(nat.addresses == [clientAddress])
            try await DHTTestNet.close(net.nodes + [node], on: loop)
        } catch {
            await namespace.remove()
            throw error
        }
        await namespace.remove()
    }
}
