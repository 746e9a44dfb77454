import CompactEncoding
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import Testing

@testable import SwarmEngine

/// HyperDHT's client operations against a six-node test net on 127.0.0.1, from an ephemeral client: FIND_PEER finds
/// the nodes a server announced itself through; immutable values come back only at their hash; mutable values follow
/// the seq rules and forged records are ignored; a lookup streams its replies; records expire after the TTL.
@Suite(.serialized) struct HyperDHTClientTests {
    @Test func findPeerAndValues() async throws {
        try await DHTTestNet.run(size: 6, clients: 1) { net, clients, loop in
            let client = clients[0]
            let server = Ed25519.randomKeyPair()
            let relay = IPv4Endpoint(host: "127.0.0.1", port: 1234)!
            let selfTarget = HyperDHTSignatures.mutableTarget(server.publicKey)
            let stored = try await loop.flatSubmit {
                client.announce(selfTarget, keyPair: server, relayAddresses: [relay])
            }.get()
            #expect(stored >= 3)
            let found = try await loop.flatSubmit { client.findPeer(server.publicKey) }.get()
            #expect(found.count == stored)
            #expect(found.allSatisfy { $0.peer == HyperDHTPeer(publicKey: server.publicKey, relayAddresses: [relay]) })
            let routes = try await loop.submit { net.nodes.map(\.storedRoutes).reduce(0, +) }.get()
            #expect(routes == stored)
            let nobody = try await loop.flatSubmit { client.findPeer(Ed25519.randomKeyPair().publicKey) }.get()
            #expect(nobody.isEmpty)

            let blob = Array("an immutable value".utf8)
            let hash = try await loop.flatSubmit { client.immutablePut(blob) }.get()
            #expect(hash == BLAKE2b.hash256(blob))
            let fetched = try await loop.flatSubmit { client.immutableGet(hash) }.get()
            #expect(fetched == blob)
            let missing = try await loop.flatSubmit { client.immutableGet(BLAKE2b.hash256([1])) }.get()
            #expect(missing == nil)

            let writer = Ed25519.randomKeyPair()
            _ = try await loop.flatSubmit { client.mutablePut(Array("v1".utf8), seq: 1, keyPair: writer) }.get()
            _ = try await loop.flatSubmit { client.mutablePut(Array("v2".utf8), seq: 2, keyPair: writer) }.get()
            let latest = try await loop.flatSubmit { client.mutableGet(writer.publicKey) }.get()
            #expect(latest?.seq == 2)
            #expect(latest?.value == Array("v2".utf8))
            let tooNew = try await loop.flatSubmit { client.mutableGet(writer.publicKey, minimumSeq: 3) }.get()
            #expect(tooNew == nil)
            // Going back, or reusing a seq with another value, is refused by every node.
            await #expect(throws: DHTNode.Failure.refused(17)) {
                try await loop.flatSubmit { client.mutablePut(Array("v0".utf8), seq: 0, keyPair: writer) }.get()
            }
            await #expect(throws: DHTNode.Failure.refused(16)) {
                try await loop.flatSubmit { client.mutablePut(Array("other".utf8), seq: 2, keyPair: writer) }.get()
            }
        }
    }

    @Test func aLookupStreamsItsRepliesAndRecordsExpireAfterTheTTL() async throws {
        let clock = NIOLockedValueBox<UInt64>(1_000_000)
        try await DHTTestNet.run(size: 6, clients: 1, storeClock: { clock.withLockedValue { $0 } }) { net, clients, loop in
            let client = clients[0]
            let topic = BLAKE2b.hash256(Array("pearirc/tests/ttl".utf8))
            let keys = Ed25519.randomKeyPair()
            let stored = try await loop.flatSubmit { client.announce(topic, keyPair: keys) }.get()
            var replies: [HyperDHTLookupResult] = []
            for try await reply in client.lookupReplies(topic) { replies.append(reply) }
            #expect(replies.count == stored)
            #expect(replies.allSatisfy { $0.peers == [HyperDHTPeer(publicKey: keys.publicKey)] })
            #expect(Set(replies.map(\.from)).count == replies.count)

            // Twenty minutes on, the record is still there (it lives between ⅔ and 4⁄3 of the TTL)...
            clock.withLockedValue { $0 += 20 * 60 * 1000 }
            let later = try await loop.flatSubmit { client.lookup(topic) }.get()
            #expect(later.map(\.publicKey) == [keys.publicKey])
            // ...and after 4⁄3 of it, gone from every node.
            clock.withLockedValue { $0 += 7 * 60 * 1000 + 1 }
            let expired = try await loop.flatSubmit { client.lookup(topic) }.get()
            #expect(expired.isEmpty)
            let left = try await loop.submit { net.nodes.map(\.storedRecords).reduce(0, +) }.get()
            #expect(left == 0)
        }
    }
}
