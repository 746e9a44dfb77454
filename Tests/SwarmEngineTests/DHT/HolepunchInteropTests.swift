import CompactEncoding
import Foundation
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import SwarmEngine
import TestVectors
import Testing

/// Hole punching and blind relaying, live against hyperdht 6.33 and blind-relay 1.6 in Node
/// (`Tests/interop/dht-peer.js`; skipped where the reference tree is absent, as in CI; `make interop` runs it). On
/// 127.0.0.1 both sides are forced to punch as the reference's own "force holepunch" test does: firewalled nodes
/// that never run the quick firewall check, and a Node client without local connection and fast open.
@Suite(.serialized) struct HolepunchInteropTests {
    @Test func punchingBothWaysWithNode() async throws {
        guard let modules = UDXInteropTests.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let ours = try await net.firewalledPeers(1, on: loop)[0]
            let port = "\(net.bootstrap.port)"

            // A firewalled Node client punches through to our firewalled server.
            let serverKeys = Ed25519.randomKeyPair()
            let served = loop.makePromise(of: HyperDHTConnection.self)
            let server = try await loop.flatSubmit { ours.listen(keyPair: serverKeys) { served.succeed($0) } }.get()
            let nodeClient = try UDXInteropTests.NodePeer(modules: modules, arguments: [DHTInteropTests.script, "client", port])
            try nodeClient.command(["connectMux": DHTInteropTests.hex(serverKeys.publicKey), "say": "punched from node", "firewalled": true])
            let incoming = try await served.futureResult.get()
            #expect(incoming.path == .punched)
            incoming.connection.open(protocol: "pear/echo", id: [7], handshake: Array("swift says hi".utf8))
            var events = incoming.connection.events.makeAsyncIterator()
            #expect(await events.next() == .opened(protocol: "pear/echo", id: [7], handshake: Array("node says hi".utf8)))
            let heard = await events.next()
            #expect(heard == .message(protocol: "pear/echo", id: [7], type: 0, message: Array("punched from node".utf8)))
            incoming.connection.send(protocol: "pear/echo", id: [7], type: 0, message: Array("punched from node".utf8))
            let echoed = try await nodeClient.nextObject()
            #expect(echoed["echo"] as? String == "punched from node", "\(echoed)")

            // Our firewalled client punches through to a firewalled Node server.
            let nodeServer = try UDXInteropTests.NodePeer(modules: modules, arguments: [DHTInteropTests.script, "client", port])
            try nodeServer.command(["listenMux": true, "firewalled": true])
            let listening = try await nodeServer.nextObject()
            let nodeKey = try Hex.decode(try #require(listening["listening"] as? String, "\(listening)"))
            let outgoing = try await loop.flatSubmit { ours.connect(to: nodeKey, localConnection: false) }.get()
            #expect(outgoing.path == .punched)
            outgoing.connection.open(protocol: "pear/echo", id: [7], handshake: Array("swift says hi".utf8))
            outgoing.connection.send(protocol: "pear/echo", id: [7], type: 0, message: Array("punched from swift".utf8))
            var replies = outgoing.connection.events.makeAsyncIterator()
            #expect(await replies.next() == .opened(protocol: "pear/echo", id: [7], handshake: Array("node says hi".utf8)))
            #expect(await replies.next() == .message(protocol: "pear/echo", id: [7], type: 0, message: Array("punched from swift".utf8)))

            incoming.connection.disconnect()
            outgoing.connection.disconnect()
            _ = try await loop.flatSubmit { server.close() }.get()
            try await DHTTestNet.close([ours], on: loop)
        }
    }

    /// A Node client on a node that runs the quick firewall check (as Node programs do by default) and our firewalled
    /// server, five times in a row: each connects (directly when the client says it is reachable, else punched; on
    /// loopback its DHT often has not concluded yet). Before hole punching was built this gave up in about one run
    /// of three (docs/swarm-protocol.md §7).
    @Test func aReachableNodeClientReachesOurFirewalledServer() async throws {
        guard let modules = UDXInteropTests.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let ours = try await net.firewalledPeers(1, on: loop)[0]
            let nodeClient = try UDXInteropTests.NodePeer(
                modules: modules, arguments: [DHTInteropTests.script, "client", "\(net.bootstrap.port)"])
            for attempt in 0..<5 {
                let serverKeys = Ed25519.randomKeyPair()
                let served = loop.makePromise(of: HyperDHTConnection.self)
                let server = try await loop.flatSubmit { ours.listen(keyPair: serverKeys) { served.succeed($0) } }.get()
                try nodeClient.command(["connectMux": DHTInteropTests.hex(serverKeys.publicKey), "say": "attempt \(attempt)"])
                let incoming = try await served.futureResult.get()
                #expect(incoming.firstPath == .direct || incoming.firstPath == .punched)
                incoming.connection.open(protocol: "pear/echo", id: [7], handshake: Array("swift says hi".utf8))
                var events = incoming.connection.events.makeAsyncIterator()
                _ = await events.next()
                let heard = await events.next()
                #expect(heard == .message(protocol: "pear/echo", id: [7], type: 0, message: Array("attempt \(attempt)".utf8)))
                incoming.connection.send(protocol: "pear/echo", id: [7], type: 0, message: Array("attempt \(attempt)".utf8))
                let echoed = try await nodeClient.nextObject()
                #expect(echoed["echo"] as? String == "attempt \(attempt)", "\(echoed)")
                incoming.connection.disconnect()
                _ = try await loop.flatSubmit { server.close() }.get()
            }
            try await DHTTestNet.close([ours], on: loop)
        }
    }

    @Test func relayingThroughNodeAndForNode() async throws {
        guard let modules = UDXInteropTests.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let peers = try await net.firewalledPeers(2, on: loop)
            let port = "\(net.bootstrap.port)"

            // Our client and our server meet through a Node blind relay (the client refuses to punch).
            let nodeRelay = try UDXInteropTests.NodePeer(modules: modules, arguments: [DHTInteropTests.script, "client", port])
            try nodeRelay.command(["relayServer": true])
            let relayAnswer = try await nodeRelay.nextObject()
            let nodeRelayKey = try Hex.decode(try #require(relayAnswer["relay"] as? String, "\(relayAnswer)"))
            let serverKeys = Ed25519.randomKeyPair()
            let served = loop.makePromise(of: HyperDHTConnection.self)
            let server = try await loop.flatSubmit { peers[0].listen(keyPair: serverKeys) { served.succeed($0) } }.get()
            let outgoing = try await loop.flatSubmit {
                peers[1].connect(to: serverKeys.publicKey, relayThrough: [nodeRelayKey], holepunch: false, localConnection: false)
            }.get()
            let incoming = try await served.futureResult.get()
            #expect(outgoing.path == .relayed)
            #expect(incoming.path == .relayed)
            outgoing.connection.open(protocol: "pear/echo", id: [1], handshake: Array("client".utf8))
            incoming.connection.open(protocol: "pear/echo", id: [1], handshake: Array("server".utf8))
            outgoing.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("via node's relay".utf8))
            incoming.connection.send(protocol: "pear/echo", id: [1], type: 0, message: Array("and back".utf8))
            var fromServer = outgoing.connection.events.makeAsyncIterator()
            var fromClient = incoming.connection.events.makeAsyncIterator()
            #expect(await fromServer.next() == .opened(protocol: "pear/echo", id: [1], handshake: Array("server".utf8)))
            #expect(await fromServer.next() == .message(protocol: "pear/echo", id: [1], type: 0, message: Array("and back".utf8)))
            #expect(await fromClient.next() == .opened(protocol: "pear/echo", id: [1], handshake: Array("client".utf8)))
            #expect(await fromClient.next() == .message(protocol: "pear/echo", id: [1], type: 0, message: Array("via node's relay".utf8)))
            outgoing.connection.disconnect()
            incoming.connection.disconnect()
            _ = try await loop.flatSubmit { server.close() }.get()

            // A Node client and a Node server meet through our relay (neither punches).
            let relayKeys = Ed25519.randomKeyPair()
            let relay = try await loop.flatSubmit { BlindRelayServer.start(on: net.nodes.last!, keyPair: relayKeys) }.get()
            let nodeServer = try UDXInteropTests.NodePeer(modules: modules, arguments: [DHTInteropTests.script, "client", port])
            try nodeServer.command(["listenMux": true, "firewalled": true, "noPunch": true])
            let listening = try await nodeServer.nextObject()
            let nodeServerKey = try #require(listening["listening"] as? String, "\(listening)")
            let nodeClient = try UDXInteropTests.NodePeer(modules: modules, arguments: [DHTInteropTests.script, "client", port])
            try nodeClient.command([
                "connectMux": nodeServerKey, "say": "through a swift relay", "firewalled": true, "noPunch": true,
                "relayThrough": DHTInteropTests.hex(relayKeys.publicKey),
            ])
            let echoed = try await nodeClient.nextObject()
            #expect(echoed["echo"] as? String == "through a swift relay", "\(echoed)")
            let linked = try await loop.submit { relay.pairsLinked }.get()
            #expect(linked == 1)
            _ = try await loop.flatSubmit { relay.close() }.get()
            try await DHTTestNet.close(peers, on: loop)
        }
    }
}
