import CompactEncoding
import NIOCore
import NIOPosix
import NetworkLab
import Sodium
import TestVectors
import Testing

@testable import SwarmEngine

/// Topic discovery on a six-node test net on 127.0.0.1: two peers that join a topic at the same moment find each
/// other within seconds (their first lookups find nobody; the quick retry does), a peer that leaves is no longer
/// found, and the refresh schedule is the reference's except after empty lookups.
@Suite(.serialized) struct DHTTopicDiscoveryTests {
    /// The first key `found` yields, or nil after `timeout`.
    static func firstFound(_ discovery: DHTTopicDiscovery, timeout: Duration = .seconds(15)) async -> DHTTopicDiscovery.Found? {
        await firstElement(of: discovery.found, timeout: timeout)
    }

    @Test func twoPeersJoiningAtOnceMeetWithinSeconds() async throws {
        try await DHTTestNet.run(size: 6, clients: 2) { _, peers, loop in
            let topic = BLAKE2b.hash256(Array("#rust".utf8))
            let keys = [Ed25519.randomKeyPair(), Ed25519.randomKeyPair()]
            let discoveries = zip(peers, keys).map { DHTTopicDiscovery(node: $0, keyPair: $1) }
            // Both join at once: neither announce is stored when the other's first lookup runs.
            try await loop.flatSubmit {
                discoveries[0].join(topic).and(discoveries[1].join(topic)).map { _ in }
            }.get()
            async let first = Self.firstFound(discoveries[0])
            async let second = Self.firstFound(discoveries[1])
            let (a, b) = await (first, second)
            #expect(a?.publicKey == keys[1].publicKey && a?.topic == topic)
            #expect(b?.publicKey == keys[0].publicKey && b?.topic == topic)
            _ = try await loop.flatSubmit { discoveries[0].close().and(discoveries[1].close()) }.get()
        }
    }

    @Test func aPeerThatLeavesIsNoLongerFound() async throws {
        try await DHTTestNet.run(size: 6, clients: 2) { _, peers, loop in
            let topic = BLAKE2b.hash256(Array("#leaving".utf8))
            let keys = Ed25519.randomKeyPair()
            let discovery = DHTTopicDiscovery(node: peers[0], keyPair: keys)
            try await loop.flatSubmit { discovery.join(topic, client: false) }.get()
            let before = try await loop.flatSubmit { peers[1].lookup(topic) }.get()
            #expect(before.map(\.publicKey) == [keys.publicKey])
            try await loop.flatSubmit { discovery.leave(topic) }.get()
            let after = try await loop.flatSubmit { peers[1].lookup(topic) }.get()
            #expect(after.isEmpty)
            let joined = try await loop.submit { discovery.joinedTopics }.get()
            #expect(joined == 0)
            _ = try await loop.flatSubmit { discovery.close() }.get()
        }
    }

    @Test func refreshesComeSoonOnlyAfterJoiningAndWhileNobodyIsFound() {
        let timing = DHTTopicDiscovery.Timing()
        let retries = (1...4).map {
            DHTTopicDiscovery.nextRefresh(emptyLookups: $0, client: true, timing: timing, jitterFraction: 0.5)
        }
        #expect(retries == [.seconds(1), .seconds(2), .seconds(4), .seconds(8)])
        // Never later than the regular refresh, however long nobody is found.
        #expect(DHTTopicDiscovery.nextRefresh(emptyLookups: 40, client: true, timing: timing, jitterFraction: 0) == .minutes(10))
        // The first lookups after joining are followed soon even when they found someone (a third member must not
        // hide a peer that joined at the same moment)...
        let followUps = (1...5).map {
            DHTTopicDiscovery.nextRefresh(afterLookups: $0, emptyLookups: 0, client: true, timing: timing, jitterFraction: 0.5)
        }
        #expect(followUps == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .minutes(11)])
        // ...and then someone found, or not looking at all: the reference's 10 minutes plus jitter.
        #expect(DHTTopicDiscovery.nextRefresh(emptyLookups: 0, client: true, timing: timing, jitterFraction: 0.5) == .minutes(11))
        #expect(DHTTopicDiscovery.nextRefresh(afterLookups: 1, emptyLookups: 3, client: false, timing: timing, jitterFraction: 1) == .minutes(12))
    }
}
