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

    /// The `ik` case's handshake itself: the two recorded IK messages (HyperDHT's PEER_HANDSHAKE, prologue
    /// NS.PEER_HANDSHAKE) come out of our Noise with the recorded keys, giving the recorded hash and split.
    @Test func ikPreHandshakeReproduces() throws {
        struct Key: Decodable { let seed: String }
        struct Pre: Decodable { let ikMessage1, ikMessage2, handshakeHash, initiatorTx, initiatorRx: String }
        struct IKCase: Decodable {
            let mode: String
            let initiator, responder: Party
            let ephemeralKeysUsed: [Key]
            let preHandshake: Pre?
        }
        struct IKFile: Decodable { let cases: [IKCase] }
        let file = try ReferenceVectors.load("secret-stream.json", as: IKFile.self)
        let vector = try #require(file.cases.first { $0.mode == "ik" })
        let pre = try #require(vector.preHandshake)
        let prologue = HolepunchNamespace.derive("hyperswarm/dht", count: 1)[0]
        let initiatorKeys = try Ed25519.KeyPair(secretKey: Hex.decode(vector.initiator.secretKey))
        let responderKeys = try Ed25519.KeyPair(secretKey: Hex.decode(vector.responder.secretKey))
        let ephemerals = try vector.ephemeralKeysUsed.map { try Ed25519.keyPair(seed: Hex.decode($0.seed)) }
        // The recorder zeroed the ephemeral keys inside the recorded messages (see docs/research §4.2).
        var message1 = try Hex.decode(pre.ikMessage1)
        message1.replaceSubrange(0..<32, with: ephemerals[0].publicKey)
        var message2 = try Hex.decode(pre.ikMessage2)
        message2.replaceSubrange(0..<32, with: ephemerals[1].publicKey)
        func responder() throws -> NoiseHandshake {
            try NoiseHandshake(pattern: .ik, isInitiator: false, staticKeyPair: responderKeys, prologue: prologue,
                               ephemeralKeyPair: ephemerals[1])
        }
        // The payloads are HyperDHT noisePayloads; learn them by reading the recorded messages.
        var probe = try responder()
        let payload1 = try probe.receive(message1)
        var initiator = try NoiseHandshake(
            pattern: .ik, isInitiator: true, staticKeyPair: initiatorKeys, prologue: prologue,
            remoteStaticKey: responderKeys.publicKey, ephemeralKeyPair: ephemerals[0])
        #expect(try initiator.send(payload: payload1) == message1)
        var real = try responder()
        #expect(try real.receive(message1) == payload1)
        let payload2 = try initiator.receive(message2)
        #expect(try real.send(payload: payload2) == message2)
        let i = try #require(initiator.result), r = try #require(real.result)
        #expect(Hex.encode(i.handshakeHash) == pre.handshakeHash)
        #expect(Hex.encode(i.transmitKey) == pre.initiatorTx)
        #expect(Hex.encode(i.receiveKey) == pre.initiatorRx)
        #expect(r.transmitKey == i.receiveKey && r.receiveKey == i.transmitKey)
        #expect(r.remoteStaticKey == initiatorKeys.publicKey)
    }

    /// The unordered datagram envelopes of both cases.
    @Test func datagramEnvelopesAreByteExact() throws {
        struct Envelope: Decodable { let plaintext, envelope: String }
        struct Unordered: Decodable {
            let initiatorSendKey, initiatorRecvKey, initiatorCounterStart: String
            let messages: [Envelope]
        }
        struct DCase: Decodable { let mode, handshakeHash: String; let unordered: Unordered }
        struct DFile: Decodable { let cases: [DCase] }
        let file = try ReferenceVectors.load("secret-stream.json", as: DFile.self)
        #expect(file.cases.count == 2)
        for vector in file.cases {
            let hash = try Hex.decode(vector.handshakeHash)
            let keys = SecretStreamDatagrams.keys(isInitiator: true, handshakeHash: hash)
            #expect(Hex.encode(keys.send) == vector.unordered.initiatorSendKey)
            #expect(Hex.encode(keys.receive) == vector.unordered.initiatorRecvKey)
            #expect(SecretStreamDatagrams.keys(isInitiator: false, handshakeHash: hash).receive == keys.send)
            var sender = SecretStreamDatagrams(
                isInitiator: true, handshakeHash: hash, initialCounter: try Hex.decode(vector.unordered.initiatorCounterStart))
            let receiver = SecretStreamDatagrams(isInitiator: false, handshakeHash: hash)
            for message in vector.unordered.messages {
                let envelope = try sender.seal(Hex.decode(message.plaintext))
                #expect(Hex.encode(envelope) == message.envelope, "\(vector.mode)")
                #expect(Hex.encode(try receiver.open(envelope)) == message.plaintext)
                var forged = envelope
                forged[10] ^= 1
                #expect(throws: SecretStreamDatagrams.Failure.authenticationFailed) { try receiver.open(forged) }
            }
            #expect(throws: SecretStreamDatagrams.Failure.tooShort) { try receiver.open([1, 2, 3]) }
        }
        // The counter wraps little-endian and refuses to reuse its starting value.
        var wrapping = SecretStreamDatagrams(isInitiator: true, handshakeHash: [UInt8](repeating: 1, count: 64),
                                             initialCounter: [0xff, 0xff, 0, 0, 0, 0, 0, 0])
        #expect(Array(try wrapping.seal([]).prefix(8)) == [0, 0, 1, 0, 0, 0, 0, 0])
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
