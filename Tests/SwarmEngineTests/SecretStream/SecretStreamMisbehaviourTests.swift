import Sodium
import SwarmEngine
import Testing

/// A session pair over an in-memory pipe, then every way a peer can misbehave after the handshake.
@Suite struct SecretStreamMisbehaviourTests {
    static func writes(_ events: [SecretStreamSession.Event]) -> [[UInt8]] {
        events.compactMap { if case .write(let bytes) = $0 { bytes } else { nil } }
    }

    static func pair() throws -> (SecretStreamSession, SecretStreamSession) {
        var a = try SecretStreamSession(isInitiator: true, staticKeyPair: Ed25519.randomKeyPair())
        var b = try SecretStreamSession(isInitiator: false, staticKeyPair: Ed25519.randomKeyPair())
        var toB = writes(try a.start()), toA: [[UInt8]] = []
        while !toB.isEmpty || !toA.isEmpty {
            let nextA = try toB.flatMap { writes(try b.receive($0)) }
            let nextB = try toA.flatMap { writes(try a.receive($0)) }
            toA = nextA
            toB = nextB
        }
        return (a, b)
    }

    @Test func tamperedTruncatedReplayedAndOversizedFramesFail() throws {
        var (a, b) = try Self.pair()
        let first = try a.send(Array("one".utf8))
        #expect(try b.receive(first) == [.message(Array("one".utf8))])
        // Replay of an accepted frame.
        var replayTarget = b
        #expect(throws: SecretStreamSession.Failure.decryptionFailed) { try replayTarget.receive(first) }
        // Tampering. (Copies of a session share its libsodium state object, which a failed pull leaves as it was.)
        let genuine = try a.send(Array("two".utf8))
        var tampered = genuine
        tampered[tampered.count - 1] ^= 1
        var tamperTarget = b
        #expect(throws: SecretStreamSession.Failure.decryptionFailed) { try tamperTarget.receive(tampered) }
        #expect(try b.receive(genuine) == [.message(Array("two".utf8))])
        // A truncated frame waits for the rest; a short body is refused.
        var shortTarget = b
        #expect(throws: SecretStreamSession.Failure.invalidFrame) { try shortTarget.receive([3, 0, 0, 1, 2, 3]) }
        // A 16 MB length prefix is refused before anything is buffered.
        var hugeTarget = b
        #expect(throws: SecretStreamSession.Failure.frameTooLarge(0xff_ffff)) { try hugeTarget.receive([0xff, 0xff, 0xff]) }
        // After a failure the session stays failed and silent.
        #expect(try hugeTarget.receive(first).isEmpty)
        // Keep-alives are dropped; a real message still flows.
        #expect(try b.receive(try a.keepAlive()).isEmpty)
        #expect(try b.receive(try a.send([42])) == [.message([42])])
    }

    @Test func aWrongHeaderIsRefused() throws {
        var a = try SecretStreamSession(isInitiator: true, staticKeyPair: Ed25519.randomKeyPair())
        var b = try SecretStreamSession(isInitiator: false, staticKeyPair: Ed25519.randomKeyPair())
        var toB = Self.writes(try a.start())
        var toA = try toB.flatMap { Self.writes(try b.receive($0)) }
        toB = try toA.flatMap { Self.writes(try a.receive($0)) }
        // toB now holds a's third handshake message and its header; corrupt the header's stream id.
        #expect(toB.count == 2)
        toB[1][5] ^= 1
        _ = try b.receive(toB[0])
        #expect(throws: SecretStreamSession.Failure.invalidHeader) { try b.receive(toB[1]) }
        toA = []
        _ = toA
    }
}
