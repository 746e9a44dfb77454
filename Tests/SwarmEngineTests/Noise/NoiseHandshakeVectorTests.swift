import Sodium
import SwarmEngine
import TestVectors
import Testing

/// All four `noise.json` cases: with the recorded static and ephemeral keys both sides produce the recorded
/// messages, payloads, handshake hash and split keys.
@Suite struct NoiseHandshakeVectorTests {
    struct Key: Decodable { let seed, publicKey: String }
    struct Message: Decodable { let from, payload, message, receivedPayload: String }
    struct Case: Decodable {
        let title, pattern, prologue, handshakeHash, initiatorTx, initiatorRx, responderTx, responderRx: String
        let initiatorStatic, responderStatic, initiatorEphemeral, responderEphemeral: Key
        let messages: [Message]
    }
    struct File: Decodable { let cases: [Case] }

    static func keyPair(_ key: Key) throws -> Ed25519.KeyPair { try Ed25519.keyPair(seed: Hex.decode(key.seed)) }

    @Test func everyCaseReproduces() throws {
        let file: File = try ReferenceVectors.load("noise.json")
        #expect(file.cases.count == 4)
        for vector in file.cases {
            let pattern = try #require(NoiseHandshake.Pattern(rawValue: vector.pattern))
            let prologue = try Hex.decode(vector.prologue)
            var initiator = try NoiseHandshake(
                pattern: pattern, isInitiator: true, staticKeyPair: Self.keyPair(vector.initiatorStatic),
                prologue: prologue, remoteStaticKey: pattern == .ik ? Hex.decode(vector.responderStatic.publicKey) : nil,
                ephemeralKeyPair: Self.keyPair(vector.initiatorEphemeral))
            var responder = try NoiseHandshake(
                pattern: pattern, isInitiator: false, staticKeyPair: Self.keyPair(vector.responderStatic),
                prologue: prologue, ephemeralKeyPair: Self.keyPair(vector.responderEphemeral))
            for recorded in vector.messages {
                let fromInitiator = recorded.from == "initiator"
                let payload = try Hex.decode(recorded.payload)
                let message = fromInitiator
                    ? try initiator.writeMessage(payload: payload) : try responder.writeMessage(payload: payload)
                // The recorder zeroed the ephemeral key inside recorded IK messages (see docs/research); compare
                // past it there, and in full everywhere else.
                let expected = try Hex.decode(recorded.message)
                if expected.prefix(32).allSatisfy({ $0 == 0 }) {
                    #expect(Array(message.dropFirst(32)) == Array(expected.dropFirst(32)), "\(vector.title)")
                } else {
                    #expect(message == expected, "\(vector.title): message from \(recorded.from)")
                }
                let received = fromInitiator ? try responder.readMessage(message) : try initiator.readMessage(message)
                #expect(Hex.encode(received) == recorded.receivedPayload)
            }
            let i = try #require(initiator.result), r = try #require(responder.result)
            #expect(Hex.encode(i.handshakeHash) == vector.handshakeHash, "\(vector.title)")
            #expect(Hex.encode(r.handshakeHash) == vector.handshakeHash)
            #expect(Hex.encode(i.transmitKey) == vector.initiatorTx && Hex.encode(i.receiveKey) == vector.initiatorRx)
            #expect(Hex.encode(r.transmitKey) == vector.responderTx && Hex.encode(r.receiveKey) == vector.responderRx)
            #expect(Hex.encode(i.remoteStaticKey) == vector.responderStatic.publicKey)
            #expect(Hex.encode(r.remoteStaticKey) == vector.initiatorStatic.publicKey)
        }
    }

    @Test func tamperedAndTruncatedMessagesFail() throws {
        let a = Ed25519.randomKeyPair(), b = Ed25519.randomKeyPair()
        var initiator = try NoiseHandshake(pattern: .xx, isInitiator: true, staticKeyPair: a)
        var responder = try NoiseHandshake(pattern: .xx, isInitiator: false, staticKeyPair: b)
        _ = try responder.readMessage(try initiator.writeMessage())
        var second = try responder.writeMessage()
        var copy = initiator
        #expect(throws: NoiseError.messageTooShort) { try copy.readMessage(Array(second.prefix(40))) }
        second[50] ^= 1
        copy = initiator
        #expect(throws: NoiseError.decryptionFailed) { try copy.readMessage(second) }
        #expect(throws: NoiseError.outOfOrder) { try responder.writeMessage() == [] ? () : () }
        #expect(throws: NoiseError.self) { try NoiseHandshake(pattern: .ik, isInitiator: true, staticKeyPair: a) }
    }
}
