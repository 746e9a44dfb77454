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

    @Test func mutableAndImmutableValues() throws {
        var store = HyperDHTRecordStore(now: 0)
        var random = SeededGenerator(seed: 1)
        let keys = Ed25519.randomKeyPair()
        let target = HyperDHTSignatures.mutableTarget(keys.publicKey)
        func put(_ seq: UInt64, _ text: String, signer: Ed25519.KeyPair = keys, at: [UInt8]? = nil) -> HyperDHTRequestHandler.Outcome {
            let value = Array(text.utf8)
            let signature = Ed25519.sign(HyperDHTSignatures.mutableSignable(seq: seq, value: value), keyPair: signer)
            let put = HyperDHTMutablePut(publicKey: keys.publicKey, seq: seq, value: value, signature: signature)
            return HyperDHTRequestHandler.handle(
                Self.request(.mutablePut, target: at ?? target, value: put.compactEncoded()), ourID: Self.ourID,
                store: &store, now: 1, using: &random)
        }
        #expect(put(4, "hello") == .reply(value: nil, token: true, closerNodes: true))
        #expect(put(4, "other") == .error(16))
        #expect(put(3, "older") == .error(17))
        #expect(put(5, "forged", signer: Ed25519.randomKeyPair()) == .drop)
        #expect(put(5, "elsewhere", at: [UInt8](repeating: 1, count: 32)) == .drop)
        let get = HyperDHTRequestHandler.handle(
            Self.request(.mutableGet, target: target, value: [4]), ourID: Self.ourID, store: &store, now: 2,
            using: &random)
        guard case .reply(let value?, true, true) = get else {
            Issue.record("no value: \(get)")
            return
        }
        #expect(try HyperDHTMutableRecord(leniently: value).value == Array("hello".utf8))
        let newer = HyperDHTRequestHandler.handle(
            Self.request(.mutableGet, target: target, value: [9]), ourID: Self.ourID, store: &store, now: 2,
            using: &random)
        #expect(newer == .reply(value: nil, token: true, closerNodes: true))

        let blob = Array("immutable value".utf8)
        let blobTarget = HyperDHTSignatures.immutableTarget(blob)
        #expect(
            HyperDHTRequestHandler.handle(
                Self.request(.immutablePut, target: [UInt8](repeating: 2, count: 32), value: blob), ourID: Self.ourID,
                store: &store, now: 3, using: &random) == .drop)
        #expect(
            HyperDHTRequestHandler.handle(
                Self.request(.immutablePut, target: blobTarget, value: blob, token: false), ourID: Self.ourID,
                store: &store, now: 3, using: &random) == .drop)
        #expect(
            HyperDHTRequestHandler.handle(
                Self.request(.immutablePut, target: blobTarget, value: blob), ourID: Self.ourID, store: &store, now: 3,
                using: &random) == .reply(value: nil, token: true, closerNodes: true))
        #expect(
            HyperDHTRequestHandler.handle(
                Self.request(.immutableGet, target: blobTarget, value: nil), ourID: Self.ourID, store: &store, now: 4,
                using: &random) == .reply(value: blob, token: true, closerNodes: true))
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
            HyperDHTRequestHandler.handle(
                Self.request(.announce, target: ownTarget, value: announce.compactEncoded()), ourID: Self.ourID,
                store: &store, now: 1, using: &random) == .reply(value: nil, token: false, closerNodes: false))
        // Signed for another node (another id in the signable): dropped.
        #expect(
            HyperDHTRequestHandler.handle(
                Self.request(.announce, target: ownTarget, value: announce.compactEncoded()),
                ourID: [UInt8](repeating: 3, count: 32), store: &store, now: 1, using: &random) == .drop)
        #expect(
            HyperDHTRequestHandler.handle(
                Self.request(.findPeer, target: ownTarget, value: nil), ourID: Self.ourID, store: &store, now: 2,
                using: &random) == .reply(value: peer.compactEncoded(), token: true, closerNodes: true))
        for bad: DHTRequest in [
            Self.request(.announce, target: ownTarget, value: [0xff, 0xff]),
            Self.request(.announce, target: nil, value: announce.compactEncoded()),
            Self.request(.announce, target: ownTarget, value: announce.compactEncoded(), token: false),
            Self.request(.lookup, target: nil, value: nil),
            Self.request(.mutableGet, target: ownTarget, value: nil),
            Self.request(.mutablePut, target: ownTarget, value: [1, 2, 3]),
        ] {
            #expect(
                HyperDHTRequestHandler.handle(bad, ourID: Self.ourID, store: &store, now: 3, using: &random) == .drop)
        }
        #expect(
            HyperDHTRequestHandler.handle(
                Self.request(.peerHandshake, target: ownTarget, value: [1]), ourID: Self.ourID, store: &store, now: 3,
                using: &random) == .notHandled)
    }
}
