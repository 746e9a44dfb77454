import CompactEncoding
import Sodium
import SwarmEngine
import TestVectors
import Testing

/// HyperDHT's storage commands on a persistent node: mutable values need the writer's signature over seq and value
/// and a target that is the hash of its key, and follow the seq rules; immutable values are stored at their hash
/// only; FIND_PEER returns the record a server announced under its own key; anything malformed is dropped.
struct HyperDHTRequestHandlerTests {
    static let ourID = [UInt8](repeating: 0xd1, count: 32)
    static let token = [UInt8](repeating: 0x71, count: 32)
    static let nowhere = IPv4Endpoint(address: 0, port: 0)

    static func request(_ command: HyperDHTRequestHandler.Command, target: [UInt8]?, value: [UInt8]?, token: Bool = true) -> DHTRequest {
        DHTRequest(
            tid: 1, to: nowhere, token: token ? Self.token : nil, isInternal: false, command: command.rawValue,
            target: target, value: value)
    }

    static let client = IPv4Endpoint(host: "10.0.0.1", port: 4000)!

    static func handle(
        _ request: DHTRequest, from: IPv4Endpoint = client, ourID: [UInt8] = ourID, persistent: Bool = true,
        store: inout HyperDHTRecordStore, now: UInt64, wallClock: UInt64 = 1_000_000, using random: inout SeededGenerator
    ) -> HyperDHTRequestHandler.Outcome {
        HyperDHTRequestHandler.handle(
            request, from: from,
            context: .init(ourID: ourID, isPersistent: persistent, now: now, wallClock: wallClock), store: &store,
            using: &random)
    }

    @Test func mutableAndImmutableValues() throws {
        var store = HyperDHTRecordStore(now: 0)
        var random = SeededGenerator(seed: 1)
        let keys = Ed25519.randomKeyPair()
        let target = HyperDHTSignatures.mutableTarget(keys.publicKey)
        func put(_ seq: UInt64, _ text: String, signer: Ed25519.KeyPair = keys, at: [UInt8]? = nil) -> HyperDHTRequestHandler.Outcome {
            let value = Array(text.utf8)
            let signature = Ed25519.sign(HyperDHTSignatures.mutableSignable(seq: seq, value: value), keyPair: signer)
            let put = HyperDHTMutablePut(publicKey: keys.publicKey, seq: seq, value: value, signature: signature)
            return Self.handle(Self.request(.mutablePut, target: at ?? target, value: put.compactEncoded()), store: &store, now: 1, using: &random)
        }
        #expect(put(4, "hello") == .reply(value: nil, token: true, closerNodes: true))
        #expect(put(4, "other") == .error(16))
        #expect(put(3, "older") == .error(17))
        #expect(put(5, "forged", signer: Ed25519.randomKeyPair()) == .drop)
        #expect(put(5, "elsewhere", at: [UInt8](repeating: 1, count: 32)) == .drop)
        let get = Self.handle(Self.request(.mutableGet, target: target, value: [4]), store: &store, now: 2, using: &random)
        guard case .reply(let value?, true, true) = get else {
            Issue.record("no value: \(get)")
            return
        }
        #expect(try HyperDHTMutableRecord(leniently: value).value == Array("hello".utf8))
        let newer = Self.handle(Self.request(.mutableGet, target: target, value: [9]), store: &store, now: 2, using: &random)
        #expect(newer == .reply(value: nil, token: true, closerNodes: true))

        let blob = Array("immutable value".utf8)
        let blobTarget = HyperDHTSignatures.immutableTarget(blob)
        #expect(
            Self.handle(Self.request(.immutablePut, target: [UInt8](repeating: 2, count: 32), value: blob), store: &store, now: 3, using: &random) == .drop)
        #expect(
            Self.handle(Self.request(.immutablePut, target: blobTarget, value: blob, token: false), store: &store, now: 3, using: &random) == .drop)
        #expect(
            Self.handle(Self.request(.immutablePut, target: blobTarget, value: blob), store: &store, now: 3, using: &random) == .reply(value: nil, token: true, closerNodes: true))
        #expect(
            Self.handle(Self.request(.immutableGet, target: blobTarget, value: nil), store: &store, now: 4, using: &random) == .reply(value: blob, token: true, closerNodes: true))
    }

    @Test func findPeerAndMalformedRequests() throws {
        var store = HyperDHTRecordStore(now: 0)
        var random = SeededGenerator(seed: 2)
        let server = Ed25519.randomKeyPair()
        let ownTarget = HyperDHTSignatures.mutableTarget(server.publicKey)
        let peer = HyperDHTPeer(publicKey: server.publicKey, relayAddresses: [IPv4Endpoint(address: 0x7f00_0001, port: 5)])
        let signable = HyperDHTSignatures.announceSignable(
            target: ownTarget, nodeID: Self.ourID, token: Self.token, peer: peer, refresh: nil)
        let announce = HyperDHTAnnounce(peer: peer, signature: Ed25519.sign(signable, keyPair: server))
        #expect(
            Self.handle(Self.request(.announce, target: ownTarget, value: announce.compactEncoded()), store: &store, now: 1, using: &random) == .reply(value: nil, token: false, closerNodes: false))
        // Signed for another node (another id in the signable): dropped.
        #expect(
            Self.handle(Self.request(.announce, target: ownTarget, value: announce.compactEncoded()), ourID: [UInt8](repeating: 3, count: 32), store: &store, now: 1, using: &random) == .drop)
        #expect(
            Self.handle(Self.request(.findPeer, target: ownTarget, value: nil), store: &store, now: 2, using: &random) == .reply(value: peer.compactEncoded(), token: true, closerNodes: true))
        for bad: DHTRequest in [
            Self.request(.announce, target: ownTarget, value: [0xff, 0xff]),
            Self.request(.announce, target: nil, value: announce.compactEncoded()),
            Self.request(.announce, target: ownTarget, value: announce.compactEncoded(), token: false),
            Self.request(.lookup, target: nil, value: nil),
            Self.request(.mutableGet, target: ownTarget, value: nil),
            Self.request(.mutablePut, target: ownTarget, value: [1, 2, 3]),
        ] {
            #expect(
                Self.handle(bad, store: &store, now: 3, using: &random) == .drop)
        }
        #expect(
            Self.handle(Self.request(.peerHandshake, target: ownTarget, value: [1]), store: &store, now: 3, using: &random) == .drop)
    }

    static func signedAnnounce(
        _ keys: Ed25519.KeyPair, under target: [UInt8], relays: [IPv4Endpoint] = [], refresh: [UInt8]? = nil,
        bump: UInt64 = 0, unannounce: Bool = false
    ) -> [UInt8] {
        let peer = HyperDHTPeer(publicKey: keys.publicKey, relayAddresses: relays)
        let signable = HyperDHTSignatures.announceSignable(
            target: target, nodeID: ourID, token: token, peer: peer, refresh: refresh, unannounce: unannounce)
        return HyperDHTAnnounce(peer: peer, refresh: refresh, signature: Ed25519.sign(signable, keyPair: keys), bump: bump)
            .compactEncoded()
    }

    /// A server's own announce becomes a route (FIND_PEER and LOOKUP return its record; handshakes and holepunch
    /// rounds for it are passed to where the announce came from); its unannounce removes the route.
    @Test func aServerAnnouncingItselfBecomesARoute() throws {
        var store = HyperDHTRecordStore(now: 0)
        var random = SeededGenerator(seed: 3)
        let server = Ed25519.randomKeyPair()
        let serverAddress = IPv4Endpoint(host: "10.0.0.9", port: 9000)!
        let target = HyperDHTSignatures.mutableTarget(server.publicKey)
        let value = Self.signedAnnounce(server, under: target)
        let stored = Self.handle(
            Self.request(.announce, target: target, value: value), from: serverAddress, store: &store, now: 1,
            using: &random)
        #expect(stored == .reply(value: nil, token: false, closerNodes: false))
        #expect(store.routeCount == 1)
        #expect(store.recordCount == 0)
        let record = HyperDHTPeer(publicKey: server.publicKey).compactEncoded()
        let found = Self.handle(Self.request(.findPeer, target: target, value: nil), store: &store, now: 2, using: &random)
        #expect(found == .reply(value: record, token: true, closerNodes: true))
        let looked = Self.handle(Self.request(.lookup, target: target, value: nil), store: &store, now: 2, using: &random)
        #expect(
            looked == .reply(
                value: HyperDHTLookupReply(peers: [HyperDHTPeer(publicKey: server.publicKey)]).compactEncoded(),
                token: true, closerNodes: true))

        // A client's handshake goes to the server as FROM_RELAY, naming the client.
        let noise = [UInt8](repeating: 0x4e, count: 48)
        let hello = HyperDHTHandshake(mode: 0, noise: noise).compactEncoded()
        let relayed = Self.handle(
            Self.request(.peerHandshake, target: target, value: hello, token: false), store: &store, now: 3,
            using: &random)
        #expect(
            relayed == .relay(
                value: HyperDHTHandshake(mode: 2, noise: noise, peerAddress: Self.client).compactEncoded(),
                to: serverAddress))
        // The server's answer goes back to the client as the REPLY, naming the server as we see it.
        let answer = HyperDHTHandshake(mode: 1, noise: noise, peerAddress: Self.client).compactEncoded()
        let replied = Self.handle(
            Self.request(.peerHandshake, target: target, value: answer, token: false), from: serverAddress,
            store: &store, now: 3, using: &random)
        #expect(
            replied == .replyTo(
                value: HyperDHTHandshake(mode: 4, noise: noise, peerAddress: serverAddress).compactEncoded(),
                to: Self.client))
        // From another relay: passed to the server as FROM_SECOND_RELAY, naming that relay.
        let otherRelay = IPv4Endpoint(host: "10.0.0.7", port: 7000)!
        let fromRelay = HyperDHTHandshake(mode: 2, noise: noise, peerAddress: Self.client).compactEncoded()
        let second = Self.handle(
            Self.request(.peerHandshake, target: target, value: fromRelay, token: false), from: otherRelay,
            store: &store, now: 3, using: &random)
        #expect(
            second == .relay(
                value: HyperDHTHandshake(mode: 3, noise: noise, peerAddress: Self.client, relayAddress: otherRelay)
                    .compactEncoded(),
                to: serverAddress))
        // Holepunch rounds: the client's to the server, the server's back to the client.
        let payload = [UInt8](repeating: 0x70, count: 40)
        let round = HyperDHTHolepunch(mode: 0, id: 7, payload: payload).compactEncoded()
        let punched = Self.handle(
            Self.request(.peerHolepunch, target: target, value: round, token: false), store: &store, now: 4,
            using: &random)
        #expect(
            punched == .relay(
                value: HyperDHTHolepunch(mode: 2, id: 7, payload: payload, peerAddress: Self.client).compactEncoded(),
                to: serverAddress))
        let back = HyperDHTHolepunch(mode: 1, id: 0, payload: payload, peerAddress: Self.client).compactEncoded()
        let returned = Self.handle(
            Self.request(.peerHolepunch, target: target, value: back, token: false), from: serverAddress,
            store: &store, now: 4, using: &random)
        #expect(
            returned == .replyTo(
                value: HyperDHTHolepunch(mode: 4, id: 0, payload: payload, peerAddress: serverAddress).compactEncoded(),
                to: Self.client))

        // Unannounced: the route is gone; a handshake now gets closer nodes, a holepunch round nothing.
        let removal = Self.signedAnnounce(server, under: target, unannounce: true)
        let removed = Self.handle(
            Self.request(.unannounce, target: target, value: removal), from: serverAddress, store: &store, now: 5,
            using: &random)
        #expect(removed == .reply(value: nil, token: false, closerNodes: false))
        #expect(store.routeCount == 0)
        let lost = Self.handle(
            Self.request(.peerHandshake, target: target, value: hello, token: false), store: &store, now: 6,
            using: &random)
        #expect(lost == .reply(value: nil, token: false, closerNodes: true))
        let nowhere = Self.handle(
            Self.request(.peerHolepunch, target: target, value: round, token: false), store: &store, now: 6,
            using: &random)
        #expect(nowhere == .drop)
    }

    /// Legs that name their next hop are routed by any node, persistent or not; what a node cannot route, and the
    /// storage commands on an ephemeral node, are not answered.
    @Test func routingWithoutARouteAndOnAnEphemeralNode() {
        var store = HyperDHTRecordStore(now: 0)
        var random = SeededGenerator(seed: 4)
        let target = [UInt8](repeating: 0x33, count: 32)
        let noise = [UInt8](repeating: 1, count: 32)
        let named = IPv4Endpoint(host: "10.0.0.5", port: 5000)!
        let viaNamed = HyperDHTHandshake(mode: 0, noise: noise, relayAddress: named).compactEncoded()
        let outcome = Self.handle(
            Self.request(.peerHandshake, target: target, value: viaNamed, token: false), persistent: false,
            store: &store, now: 1, using: &random)
        #expect(
            outcome == .relay(
                value: HyperDHTHandshake(mode: 2, noise: noise, peerAddress: Self.client).compactEncoded(), to: named))
        for unroutable in [
            HyperDHTHandshake(mode: 0, noise: []).compactEncoded(),  // no Noise message
            HyperDHTHandshake(mode: 2, noise: noise, peerAddress: Self.client).compactEncoded(),  // no route
            HyperDHTHandshake(mode: 1, noise: noise).compactEncoded(),  // no client named
            HyperDHTHandshake(mode: 3, noise: noise, relayAddress: named).compactEncoded(),  // a server's leg
            HyperDHTHandshake(mode: 4, noise: noise).compactEncoded(),  // a client's leg
            HyperDHTHandshake(mode: 99, noise: noise).compactEncoded(),
            [0xff],
        ] {
            let dropped = Self.handle(
                Self.request(.peerHandshake, target: target, value: unroutable, token: false), persistent: false,
                store: &store, now: 1, using: &random)
            #expect(dropped == .drop)
        }
        let lookup = Self.handle(
            Self.request(.lookup, target: target, value: nil), persistent: false, store: &store, now: 1, using: &random)
        #expect(lookup == .notHandled)
    }

    /// An announce with a refresh token can be renewed by the token's preimage alone (the chain moves on); a
    /// topic's bump is kept when it is higher and not more than a minute ahead of the wall clock.
    @Test func refreshChainsAndBumps() throws {
        var store = HyperDHTRecordStore(now: 0)
        var random = SeededGenerator(seed: 5)
        let keys = Ed25519.randomKeyPair()
        let topic = [UInt8](repeating: 0x44, count: 32)
        let preimage = [UInt8](repeating: 0x99, count: 32)
        let token = BLAKE2b.hash256(preimage)
        let first = Self.signedAnnounce(keys, under: topic, refresh: token, bump: 1_030_000)
        let stored = Self.handle(
            Self.request(.announce, target: topic, value: first), store: &store, now: 1, wallClock: 1_000_000,
            using: &random)
        #expect(stored == .reply(value: nil, token: false, closerNodes: false))
        store.unannounce(keys.publicKey, under: topic)
        #expect(store.recordCount == 0)
        // The preimage renews it, unsigned.
        let renewal = HyperDHTAnnounce(peer: nil, refresh: preimage).compactEncoded()
        let renewed = Self.handle(
            Self.request(.announce, target: topic, value: renewal), store: &store, now: 2, using: &random)
        #expect(renewed == .reply(value: nil, token: false, closerNodes: false))
        #expect(store.recordCount == 1)
        // The same preimage again is spent; a made-up one never worked.
        let again = Self.handle(
            Self.request(.announce, target: topic, value: renewal), store: &store, now: 3, using: &random)
        #expect(again == .drop)
        let madeUp = HyperDHTAnnounce(peer: nil, refresh: [UInt8](repeating: 7, count: 32)).compactEncoded()
        let refused = Self.handle(
            Self.request(.announce, target: topic, value: madeUp), store: &store, now: 3, using: &random)
        #expect(refused == .drop)

        #expect(store.bump(for: topic, now: 3) == 1_030_000)
        let tooFar = Self.signedAnnounce(keys, under: topic, bump: 1_070_000)
        _ = Self.handle(
            Self.request(.announce, target: topic, value: tooFar), store: &store, now: 4, wallClock: 1_000_000,
            using: &random)
        #expect(store.bump(for: topic, now: 4) == 1_030_000)
        let looked = Self.handle(Self.request(.lookup, target: topic, value: nil), store: &store, now: 5, using: &random)
        guard case .reply(let value?, true, true) = looked else {
            Issue.record("no lookup reply: \(looked)")
            return
        }
        #expect(try HyperDHTLookupReply(leniently: value).bump == 1_030_000)
    }
}
