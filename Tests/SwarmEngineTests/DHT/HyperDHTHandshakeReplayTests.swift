import CompactEncoding
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Sodium
import TestVectors
import Testing

@testable import SwarmEngine

/// The PEER_HANDSHAKE of a real hyperdht session (`live-connect-transcript.json` `ikReplay`): from the recorded keys
/// our Noise IK initiator writes the recorded first message byte for byte and opens the Node server's answer to the
/// recorded payload, handshake hash and keys; and our server, given the recorded first message, opens the client's
/// payload and answers with one the recorded client keys open and our payload decoder reads in the reference's
/// format (version 1, its UDX stream, secret-stream).
struct HyperDHTHandshakeReplayTests {
    static func keyPair(label: String) throws -> Ed25519.KeyPair {
        try Ed25519.keyPair(seed: BLAKE2b.hash256(Array(label.utf8)))
    }

    static func transcript() throws -> (replay: [String: Any], ephemeralSeed: [UInt8], message2: [UInt8]) {
        let json = try #require(
            JSONSerialization.jsonObject(with: ReferenceVectors.data("live-connect-transcript.json")) as? [String: Any])
        let replay = try #require(json["ikReplay"] as? [String: Any])
        let label = try #require(replay["initiatorEphemeralSeedLabel"] as? String)
        let deterministic = try #require(json["deterministic"] as? [String: Any])
        let ephemerals = try #require(deterministic["ephemeral"] as? [[String: Any]])
        let seed = try #require(ephemerals.first { $0["label"] as? String == label }?["seed"] as? String)
        // The server's answer as it crossed the wire (the REPLY a relay sent the client; `ikReplay.message2` has its
        // ephemeral key blanked).
        let datagrams = try #require(json["datagrams"] as? [[String: Any]])
        let reply = try #require(
            datagrams.compactMap { $0["decoded"] as? [String: Any] }.first {
                $0["inReplyTo"] as? String == "PEER_HANDSHAKE"
            })
        let value = try HyperDHTHandshake(leniently: try Hex.decode(reply["value"] as? String ?? ""))
        #expect(value.mode == HyperDHTRelayMode.reply.rawValue)
        return (replay, try Hex.decode(seed), value.noise)
    }

    @Test func ourInitiatorReproducesTheRecordedHandshake() throws {
        let (replay, ephemeralSeed, message2) = try Self.transcript()
        let client = try Self.keyPair(label: "live/client-keypair")
        let server = try Self.keyPair(label: "live/server-keypair")
        #expect(try Hex.decode(replay["prologue"] as? String ?? "") == HyperDHTSignatures.peerHandshakeNamespace)
        var initiator = try NoiseHandshake(
            pattern: .ik, isInitiator: true, staticKeyPair: client, prologue: HyperDHTSignatures.peerHandshakeNamespace,
            remoteStaticKey: server.publicKey, ephemeralKeyPair: try Ed25519.keyPair(seed: ephemeralSeed))
        let payload1 = try Hex.decode(replay["payload1"] as? String ?? "")
        let message1 = try initiator.send(payload: payload1)
        #expect(Hex.encode(message1) == replay["message1"] as? String)
        let decoded1 = try HyperDHTNoisePayload(leniently: payload1)
        #expect(decoded1.compactEncoded() == payload1)

        #expect(Array(message2.dropFirst(32)) == Array(try Hex.decode(replay["message2"] as? String ?? "").dropFirst(32)))
        let plain2 = try initiator.receive(message2)
        #expect(Hex.encode(plain2) == replay["payload2"] as? String)
        let payload2 = try HyperDHTNoisePayload(leniently: plain2)
        #expect(payload2.compactEncoded() == plain2)
        #expect(payload2.holepunch?.relays.count == 2)
        let result = try #require(initiator.result)
        #expect(Hex.encode(result.handshakeHash) == replay["handshakeHash"] as? String)
        #expect(Hex.encode(result.transmitKey) == replay["initiatorTx"] as? String)
        #expect(Hex.encode(result.receiveKey) == replay["initiatorRx"] as? String)
    }

    @Test func ourServerAnswersTheRecordedFirstMessage() async throws {
        let (replay, ephemeralSeed, _) = try Self.transcript()
        let client = try Self.keyPair(label: "live/client-keypair")
        let serverKeys = try Self.keyPair(label: "live/server-keypair")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let node = DHTNode(udx: UDXNode(eventLoop: loop), configuration: .init(host: "127.0.0.1", bootstrap: []))
        try await loop.flatSubmit { node.start() }.get()
        let seen = NIOLockedValueBox<HyperDHTNoisePayload?>(nil)
        let message1 = try Hex.decode(replay["message1"] as? String ?? "")
        let reply = try await loop.submit { () -> [UInt8]? in
            let server = HyperDHTServer(
                node: node, keyPair: serverKeys,
                firewall: { key, payload, _ in
                    seen.withLockedValue { $0 = payload }
                    return key != client.publicKey
                }, onConnection: { _ in }, logger: .init(label: "test"))
            return server.handshake(
                message1, peerAddress: IPv4Endpoint(host: "127.0.0.1", port: 49741), from: IPv4Endpoint(host: "127.0.0.1", port: 49738)!,
                socket: node.serverSocket!)?.noise
        }.get()
        let payload1 = try Hex.decode(replay["payload1"] as? String ?? "")
        #expect(seen.withLockedValue { $0 }?.compactEncoded() == payload1, "the server opened the client's payload")
        let answer = try #require(reply)
        // The recorded client (same static and ephemeral keys) opens our answer.
        var initiator = try NoiseHandshake(
            pattern: .ik, isInitiator: true, staticKeyPair: client, prologue: HyperDHTSignatures.peerHandshakeNamespace,
            remoteStaticKey: serverKeys.publicKey, ephemeralKeyPair: try Ed25519.keyPair(seed: ephemeralSeed))
        _ = try initiator.send(payload: payload1)
        let ours = try HyperDHTNoisePayload(leniently: try initiator.receive(answer))
        #expect(ours.version == 1 && ours.error == 0)
        #expect(ours.udx != nil && ours.udx?.id != 0)
        #expect(ours.secretStreamVersion == 1)
        try await loop.flatSubmit { node.stop(); return node.udx.close() }.get()
        try await group.shutdownGracefully()
    }
}
