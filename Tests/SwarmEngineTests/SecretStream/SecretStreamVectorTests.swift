import Sodium
import SwarmEngine
import TestVectors
import Testing

/// `secret-stream.json`: with the recorded keys and headers, our XX session writes exactly the recorded chunks,
/// and every recorded chunk decrypts to the recorded plaintexts on the other side.
@Suite struct SecretStreamVectorTests {
    struct Party: Decodable { let publicKey, secretKey: String }
    struct Ephemeral: Decodable { let seed: String }
    struct Header: Decodable { let header: String }
    struct Case: Decodable {
        let mode: String
        let initiator, responder: Party
        let ephemeralKeysUsed: [Ephemeral]
        let secretstreamHeaders: [Header]
        let handshakeHash, initiatorStreamId, responderStreamId: String
        let sentByInitiator, sentByResponder, receivedByResponder, receivedByInitiator: [String]
        let wireInitiatorToResponder, wireResponderToInitiator: [String]
    }
    struct File: Decodable { let namespaces: [String]; let cases: [Case] }

    static func writes(_ events: [SecretStreamSession.Event]) -> [[UInt8]] {
        events.compactMap { if case .write(let bytes) = $0 { bytes } else { nil } }
    }

    static func messages(_ events: [SecretStreamSession.Event]) -> [[UInt8]] {
        events.compactMap { if case .message(let bytes) = $0 { bytes } else { nil } }
    }

    @Test func namespacesMatch() throws {
        let file: File = try ReferenceVectors.load("secret-stream.json")
        #expect(SecretStreamSession.namespaces.map(Hex.encode) == file.namespaces)
    }

    @Test func xxSessionIsByteExact() throws {
        let file: File = try ReferenceVectors.load("secret-stream.json")
        let vector = try #require(file.cases.first { $0.mode == "xx" })
        var initiator = try SecretStreamSession(
            isInitiator: true, staticKeyPair: Ed25519.KeyPair(secretKey: Hex.decode(vector.initiator.secretKey)),
            ephemeralKeyPair: Ed25519.keyPair(seed: Hex.decode(vector.ephemeralKeysUsed[0].seed)),
            header: Hex.decode(vector.secretstreamHeaders[0].header), dropsKeepAlives: false)
        var responder = try SecretStreamSession(
            isInitiator: false, staticKeyPair: Ed25519.KeyPair(secretKey: Hex.decode(vector.responder.secretKey)),
            ephemeralKeyPair: Ed25519.keyPair(seed: Hex.decode(vector.ephemeralKeysUsed[1].seed)),
            header: Hex.decode(vector.secretstreamHeaders[1].header), dropsKeepAlives: false)

        var transcriptI: [[UInt8]] = [], transcriptR: [[UInt8]] = []
        var receivedByResponder: [[UInt8]] = [], receivedByInitiator: [[UInt8]] = []
        var toResponder = Self.writes(try initiator.start())
        var toInitiator: [[UInt8]] = []
        // Run the handshake to completion, keeping the transcript of what crossed the wire.
        while !toResponder.isEmpty || !toInitiator.isEmpty {
            transcriptI += toResponder
            transcriptR += toInitiator
            var nextToInitiator: [[UInt8]] = [], nextToResponder: [[UInt8]] = []
            for chunk in toResponder {
                let events = try responder.receive(chunk)
                nextToInitiator += Self.writes(events)
                receivedByResponder += Self.messages(events)
            }
            for chunk in toInitiator {
                let events = try initiator.receive(chunk)
                nextToResponder += Self.writes(events)
                receivedByInitiator += Self.messages(events)
            }
            toResponder = nextToResponder
            toInitiator = nextToInitiator
        }
        for plaintext in vector.sentByInitiator {
            let frame = try initiator.send(Hex.decode(plaintext))
            transcriptI.append(frame)
            receivedByResponder += Self.messages(try responder.receive(frame))
        }
        for plaintext in vector.sentByResponder {
            let frame = try responder.send(Hex.decode(plaintext))
            transcriptR.append(frame)
            receivedByInitiator += Self.messages(try initiator.receive(frame))
        }
        #expect(transcriptI.map(Hex.encode) == vector.wireInitiatorToResponder)
        #expect(transcriptR.map(Hex.encode) == vector.wireResponderToInitiator)
        #expect(receivedByResponder.map(Hex.encode) == vector.receivedByResponder)
        #expect(receivedByInitiator.map(Hex.encode) == vector.receivedByInitiator)
        #expect(initiator.handshakeHash.map(Hex.encode) == vector.handshakeHash)
        #expect(Hex.encode(SecretStreamSession.streamID(isInitiator: true, handshakeHash: try Hex.decode(vector.handshakeHash)))
            == vector.initiatorStreamId)
        #expect(Hex.encode(SecretStreamSession.streamID(isInitiator: false, handshakeHash: try Hex.decode(vector.handshakeHash)))
            == vector.responderStreamId)
        #expect(initiator.remotePublicKey.map(Hex.encode) == vector.responder.publicKey)
    }

    /// The `ik` case: a stream started from a finished IK handshake (the HyperDHT path) writes no Noise bytes,
    /// starts with the header message, and then the recorded data frames.
    @Test func ikStartIsByteExact() throws {
        struct IKCase: Decodable {
            let mode: String
            let initiator, responder: Party
            let secretstreamHeaders: [Header]
            let handshakeHash, initiatorTxKey, initiatorRxKey: String
            let sentByInitiator, sentByResponder, receivedByResponder, receivedByInitiator: [String]
            let wireInitiatorToResponder, wireResponderToInitiator: [String]
        }
        struct IKFile: Decodable { let cases: [IKCase] }
        let file = try ReferenceVectors.load("secret-stream.json", as: IKFile.self)
        let vector = try #require(file.cases.first { $0.mode == "ik" })
        let hash = try Hex.decode(vector.handshakeHash)
        let tx = try Hex.decode(vector.initiatorTxKey), rx = try Hex.decode(vector.initiatorRxKey)
        var initiator = SecretStreamSession(
            isInitiator: true,
            handshake: .init(transmitKey: tx, receiveKey: rx, handshakeHash: hash, remoteStaticKey: try Hex.decode(vector.responder.publicKey)),
            header: try Hex.decode(vector.secretstreamHeaders[0].header), dropsKeepAlives: false)
        var responder = SecretStreamSession(
            isInitiator: false,
            handshake: .init(transmitKey: rx, receiveKey: tx, handshakeHash: hash, remoteStaticKey: try Hex.decode(vector.initiator.publicKey)),
            header: try Hex.decode(vector.secretstreamHeaders[1].header), dropsKeepAlives: false)
        var toResponder = Self.writes(try initiator.start()), toInitiator = Self.writes(try responder.start())
        var received: [[UInt8]] = [], receivedBack: [[UInt8]] = []
        for chunk in toInitiator { receivedBack += Self.messages(try initiator.receive(chunk)) }
        for chunk in toResponder { received += Self.messages(try responder.receive(chunk)) }
        for plaintext in vector.sentByInitiator {
            let frame = try initiator.send(Hex.decode(plaintext))
            toResponder.append(frame)
            received += Self.messages(try responder.receive(frame))
        }
        for plaintext in vector.sentByResponder {
            let frame = try responder.send(Hex.decode(plaintext))
            toInitiator.append(frame)
            receivedBack += Self.messages(try initiator.receive(frame))
        }
        #expect(toResponder.map(Hex.encode) == vector.wireInitiatorToResponder)
        #expect(toInitiator.map(Hex.encode) == vector.wireResponderToInitiator)
        #expect(received.map(Hex.encode) == vector.receivedByResponder)
        #expect(receivedBack.map(Hex.encode) == vector.receivedByInitiator)
    }
}
