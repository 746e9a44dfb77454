import CompactEncoding
import Foundation
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import SwarmEngine
import TestVectors
import Testing

/// A mixed network, both ways, live against hyperdht 6.33 in Node (`Tests/interop/dht-peer.js`, the reference tree of
/// `../shared/interop`; skipped where it is absent, as in CI; `make interop` runs it):
/// our gateway joins a Node test net, announces, and a Node client finds it, and finds what a Node client announced;
/// Node clients bootstrapping only from our persistent nodes find each other through them.
@Suite(.serialized) struct DHTInteropTests {
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("interop/dht-peer.js").path
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    @Test func ourNodeAnnouncesAndLooksUpOnANodeTestNet() async throws {
        guard let modules = UDXInteropTests.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        let node = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "testnet"])
        let first = try await node.nextObject()
        let port = try #require(first["bootstrap"] as? Int)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let ours = DHTNode(
            udx: UDXNode(eventLoop: loop),
            configuration: .init(host: "127.0.0.1", bootstrap: [IPv4Endpoint(host: "127.0.0.1", port: UInt16(port))!]))
        try await loop.flatSubmit { ours.start().flatMap { ours.bootstrap() } }.get()

        // Ours announces; the Node client finds it.
        let topic = BLAKE2b.hash256(Array("pearirc/interop/ours".utf8))
        let keys = Ed25519.randomKeyPair()
        let stored = try await loop.flatSubmit { ours.announce(topic, keyPair: keys) }.get()
        #expect(stored >= 1)
        try node.command(["lookup": Self.hex(topic)])
        let seen = try await node.nextObject()
        #expect(seen["found"] as? [String] == [Self.hex(keys.publicKey)], "\(seen)")

        // The Node client announces; ours finds it.
        let theirs = BLAKE2b.hash256(Array("pearirc/interop/theirs".utf8))
        try node.command(["announce": Self.hex(theirs)])
        let announced = try await node.nextObject()
        let theirKey = try #require(announced["announced"] as? String, "\(announced)")
        let found = try await loop.flatSubmit { ours.lookup(theirs) }.get()
        #expect(found.map { Self.hex($0.publicKey) } == [theirKey])

        try await loop.flatSubmit { ours.stop(); return ours.udx.close() }.get()
        try await group.shutdownGracefully()
    }

    @Test func nodeClientsFindEachOtherThroughOurNetwork() async throws {
        guard let modules = UDXInteropTests.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        try await DHTTestNet.run(size: 6) { net, _, _ in
            let bootstrap = net.bootstrap
            let announcer = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", "\(bootstrap.port)"])
            let seeker = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", "\(bootstrap.port)"])
            let topic = BLAKE2b.hash256(Array("pearirc/interop/through-ours".utf8))
            try announcer.command(["announce": Self.hex(topic)])
            let announced = try await announcer.nextObject()
            let key = try #require(announced["announced"] as? String, "\(announced)")
            try seeker.command(["lookup": Self.hex(topic)])
            let found = try await seeker.nextObject()
            #expect(found["found"] as? [String] == [key], "\(found)")
        }
    }

    /// What users of a mixed network meet first: Node HyperDHT peers that bootstrap only from our persistent nodes
    /// connect by public key (the server announces itself through our nodes, which pass the client's handshake and
    /// holepunch rounds to it), and two Node Hyperswarm peers on one topic find each other and talk.
    @Test func nodePeersConnectThroughOurNetwork() async throws {
        guard let modules = UDXInteropTests.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        try await DHTTestNet.run(size: 6) { net, _, loop in
            let port = "\(net.bootstrap.port)"
            let server = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", port])
            let client = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", port])

            try server.command(["listen": true])
            let listening = try await server.nextObject()
            let key = try #require(listening["listening"] as? String, "\(listening)")
            try client.command(["connect": key, "say": "hello through pearircd"])
            let echoed = try await client.nextObject()
            #expect(echoed["echo"] as? String == "hello through pearircd", "\(echoed)")
            let relayed = try await loop.submit { net.nodes.map(\.relayedMessages).reduce(0, +) }.get()
            #expect(relayed >= 2, "the handshake went to the server and back through our nodes")

            let topic = BLAKE2b.hash256(Array("pearirc/interop/swarm".utf8))
            let first = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", port])
            let second = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", port])
            // The second joins once the first's announce is stored: two Hyperswarm peers that join at the same instant
            // can both look up before either announce lands and then miss each other for ten minutes (the
            // reference's refresh; ../shared/interop/README.md).
            try first.command(["join": Self.hex(topic), "say": "from the first"])
            #expect(try await first.nextObject()["joined"] as? Bool == true)
            try second.command(["join": Self.hex(topic), "say": "from the second"])
            #expect(try await second.nextObject()["joined"] as? Bool == true)
            let heardByFirst = try await first.nextObject()
            let heardBySecond = try await second.nextObject()
            #expect(heardByFirst["heard"] as? String == "from the second", "\(heardByFirst)")
            #expect(heardBySecond["heard"] as? String == "from the first", "\(heardBySecond)")
        }
    }

    /// Connecting by public key, both ways, with Node hyperdht 6.33 on a network of our nodes: a Node client connects
    /// to our server and our client to a Node server; protomux echoes over the secret-stream both ways.
    @Test func connectionsByKeyWithNode() async throws {
        guard let modules = UDXInteropTests.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        try await DHTTestNet.run(size: 6, clients: 1) { net, clients, loop in
            let ours = clients[0]
            let port = "\(net.bootstrap.port)"

            // A Node client connects to our server.
            let serverKeys = Ed25519.randomKeyPair()
            let served = loop.makePromise(of: HyperDHTConnection.self)
            let server = try await loop.flatSubmit { ours.listen(keyPair: serverKeys) { served.succeed($0) } }.get()
            let nodeClient = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", port])
            try nodeClient.command(["connectMux": Self.hex(serverKeys.publicKey), "say": "from node"])
            let incoming = try await served.futureResult.get()
            incoming.connection.open(protocol: "pear/echo", id: [7], handshake: Array("swift says hi".utf8))
            var events = incoming.connection.events.makeAsyncIterator()
            #expect(await events.next() == .opened(protocol: "pear/echo", id: [7], handshake: Array("node says hi".utf8)))
            let heard = await events.next()
            #expect(heard == .message(protocol: "pear/echo", id: [7], type: 0, message: Array("from node".utf8)))
            incoming.connection.send(protocol: "pear/echo", id: [7], type: 0, message: Array("from node".utf8))
            let echoed = try await nodeClient.nextObject()
            #expect(echoed["echo"] as? String == "from node", "\(echoed)")
            #expect(echoed["handshake"] as? String == "swift says hi", "\(echoed)")

            // Our client connects to a Node server.
            let nodeServer = try UDXInteropTests.NodePeer(modules: modules, arguments: [Self.script, "client", port])
            try nodeServer.command(["listenMux": true])
            let listening = try await nodeServer.nextObject()
            let nodeKey = try Hex.decode(try #require(listening["listening"] as? String, "\(listening)"))
            let clientKeys = Ed25519.randomKeyPair()
            let outgoing = try await loop.flatSubmit { ours.connect(to: nodeKey, keyPair: clientKeys) }.get()
            #expect(outgoing.connection.remotePublicKey == nodeKey)
            let servedNode = try await nodeServer.nextObject()
            #expect(servedNode["served"] as? String == Self.hex(clientKeys.publicKey))
            outgoing.connection.open(protocol: "pear/echo", id: [7], handshake: Array("swift says hi".utf8))
            outgoing.connection.send(protocol: "pear/echo", id: [7], type: 0, message: Array("from swift".utf8))
            var replies = outgoing.connection.events.makeAsyncIterator()
            #expect(await replies.next() == .opened(protocol: "pear/echo", id: [7], handshake: Array("node says hi".utf8)))
            #expect(await replies.next() == .message(protocol: "pear/echo", id: [7], type: 0, message: Array("from swift".utf8)))

            incoming.connection.disconnect()
            outgoing.connection.disconnect()
            _ = try await loop.flatSubmit { server.close() }.get()
        }
    }
}
