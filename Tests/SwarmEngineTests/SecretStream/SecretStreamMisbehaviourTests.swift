import Sodium
import SwarmEngine
import TestVectors
import Testing

/// A session pair over an in-memory pipe, then every way a peer can misbehave.
@Suite struct SecretStreamMisbehaviourTests {
    static func writes(_ events: [SecretStreamSession.Event]) -> [[UInt8]] {
        events.compactMap { if case .write(let bytes) = $0 { bytes } else { nil } }
    }

    /// Runs the XX handshake and header exchange between `a` and `b` to completion.
    static func connect(_ a: inout SecretStreamSession, _ b: inout SecretStreamSession) throws {
        var toB = writes(try a.start()), toA: [[UInt8]] = []
        while !toB.isEmpty || !toA.isEmpty {
            let nextA = try toB.flatMap { writes(try b.receive($0)) }
            let nextB = try toA.flatMap { writes(try a.receive($0)) }
            toA = nextA
            toB = nextB
        }
    }

    static func pair(maximumFrameLength: Int = SecretStreamSession.defaultMaximumFrameLength) throws -> (SecretStreamSession, SecretStreamSession) {
        var a = try SecretStreamSession(isInitiator: true, staticKeyPair: Ed25519.randomKeyPair())
        var b = try SecretStreamSession(
            isInitiator: false, staticKeyPair: Ed25519.randomKeyPair(), maximumFrameLength: maximumFrameLength)
        try connect(&a, &b)
        #expect(a.isOpen && b.isOpen && a.isEstablished && b.isEstablished)
        #expect(a.handshakeHash == b.handshakeHash && a.handshakeHash?.count == 64)
        return (a, b)
    }

    @Test func framesSplitAnywhereStillArrive() throws {
        var (a, b) = try Self.pair()
        let stream = try a.send(Array("one".utf8)) + a.keepAlive() + a.send(Array("two".utf8))
        var received: [SecretStreamSession.Event] = []
        for byte in stream { received += try b.receive([byte]) }
        #expect(received == [.message(Array("one".utf8)), .message(Array("two".utf8))])
        try b.receiveEnd()  // between frames: a clean end
    }

    @Test func tamperedCiphertextFails() throws {
        var (a, b) = try Self.pair()
        let genuine = try a.send(Array("two".utf8))
        // Every byte of the body matters: tag byte, ciphertext and MAC.
        for index in 3..<genuine.count {
            var tampered = genuine
            tampered[index] ^= 0x40
            var target = b  // sessions are values: each copy fails on its own
            #expect(throws: SecretStreamError.decryptionFailed) { try target.receive(tampered) }
            #expect(target.isFailed)
        }
        #expect(try b.receive(genuine) == [.message(Array("two".utf8))])
    }

    @Test func replayedDuplicatedAndReorderedFramesFail() throws {
        var (a, b) = try Self.pair()
        let first = try a.send([1]), second = try a.send([2])
        var reordered = b
        #expect(throws: SecretStreamError.decryptionFailed) { try reordered.receive(second) }
        #expect(try b.receive(first) == [.message([1])])
        var replayed = b
        #expect(throws: SecretStreamError.decryptionFailed) { try replayed.receive(first) }
        // A second header message after the first is no header: it is a frame that fails authentication.
        var duplicateHeader = b
        let header = [56, 0, 0] + [UInt8](repeating: 0, count: 56)
        #expect(throws: SecretStreamError.decryptionFailed) { try duplicateHeader.receive(header) }
        #expect(try b.receive(second) == [.message([2])])
        // After a failure the session stays failed: silent on input, refusing output.
        #expect(try replayed.receive(second).isEmpty)
        #expect(throws: SecretStreamError.closed) { try replayed.send([3]) }
    }

    @Test func truncatedAndShortFramesFail() throws {
        var (a, b) = try Self.pair()
        let frame = try a.send(Array("hello".utf8))
        // A frame cut short by the end of the transport.
        var cut = b
        #expect(try cut.receive(Array(frame.prefix(10))).isEmpty)
        #expect(throws: SecretStreamError.truncatedFrame) { try cut.receiveEnd() }
        // A body shorter than the 17 bytes of overhead.
        var short = b
        #expect(throws: SecretStreamError.invalidFrame(length: 3)) { try short.receive([3, 0, 0, 1, 2, 3]) }
        // A complete frame whose body lost bytes (length prefix rewritten to match) fails authentication.
        var shortened = Array(frame.dropLast(2))
        shortened[0] -= 2
        var lost = b
        #expect(throws: SecretStreamError.decryptionFailed) { try lost.receive(shortened) }
        // An empty-body frame is too short as well.
        var empty = b
        #expect(throws: SecretStreamError.invalidFrame(length: 0)) { try empty.receive([0, 0, 0]) }
    }

    @Test func oversizedLengthPrefixesAreRefusedBeforeBuffering() throws {
        // With a configured limit, a 16 MB prefix is refused as soon as its three bytes arrive.
        var (_, limited) = try Self.pair(maximumFrameLength: 1 << 20)
        #expect(throws: SecretStreamError.frameTooLarge(length: 0xff_ffff, limit: 1 << 20)) { try limited.receive([0xff, 0xff, 0xff]) }
        // With the default (every uint24 length, as the reference) it waits for the body; an end before it is
        // a truncated frame, never a hang or a trap.
        var (_, b) = try Self.pair()
        #expect(try b.receive([0xff, 0xff, 0xff, 1, 2, 3]).isEmpty)
        #expect(throws: SecretStreamError.truncatedFrame) { try b.receiveEnd() }
        // During the handshake nothing longer than a Noise message (65535) is accepted.
        var responder = try SecretStreamSession(isInitiator: false, staticKeyPair: Ed25519.randomKeyPair())
        #expect(throws: SecretStreamError.frameTooLarge(length: 0xff_ffff, limit: 65535)) { try responder.receive([0xff, 0xff, 0xff]) }
        // Sending more than a frame holds is refused locally.
        var (a, _) = try Self.pair(maximumFrameLength: 100)
        #expect(throws: SecretStreamError.self) { try a.send([UInt8](repeating: 0, count: 1 << 24)) }
    }

    @Test func aWrongOrMissingHeaderIsRefused() throws {
        var a = try SecretStreamSession(isInitiator: true, staticKeyPair: Ed25519.randomKeyPair())
        var b = try SecretStreamSession(isInitiator: false, staticKeyPair: Ed25519.randomKeyPair())
        var toB = Self.writes(try a.start())
        let toA = try toB.flatMap { Self.writes(try b.receive($0)) }
        toB = try toA.flatMap { Self.writes(try a.receive($0)) }
        // toB now holds a's third handshake message and its header message.
        #expect(toB.count == 2)
        _ = try b.receive(toB[0])
        var corrupted = toB[1]
        corrupted[5] ^= 1
        var wrongID = b
        #expect(throws: SecretStreamError.invalidHeader) { try wrongID.receive(corrupted) }
        // A data frame where the header should be (out of order) is refused before its body is buffered.
        var dataFirst = b
        #expect(throws: SecretStreamError.invalidHeader) { try dataFirst.receive([0x40, 0, 0]) }
        // The genuine header opens the stream.
        #expect(try b.receive(toB[1]).isEmpty && b.isOpen)
        // The transport ending before that is an error too.
        var early = try SecretStreamSession(isInitiator: false, staticKeyPair: Ed25519.randomKeyPair())
        #expect(throws: SecretStreamError.endedDuringHandshake) { try early.receiveEnd() }
    }

    @Test func aPeerWithTheWrongKeyIsRefusedBeforeWeIdentifyOurselves() throws {
        let expected = Ed25519.randomKeyPair().publicKey
        var a = try SecretStreamSession(
            isInitiator: true, staticKeyPair: Ed25519.randomKeyPair(), expectedRemotePublicKey: expected)
        var impostor = try SecretStreamSession(isInitiator: false, staticKeyPair: Ed25519.randomKeyPair())
        let toImpostor = Self.writes(try a.start())
        let reply = try toImpostor.flatMap { Self.writes(try impostor.receive($0)) }
        #expect(throws: SecretStreamError.unexpectedRemoteKey) { try reply.forEach { _ = try a.receive($0) } }
        #expect(a.isFailed && !a.isEstablished)
        // The expected key is accepted.
        let rightKeys = Ed25519.randomKeyPair()
        var c = try SecretStreamSession(
            isInitiator: true, staticKeyPair: Ed25519.randomKeyPair(), expectedRemotePublicKey: rightKeys.publicKey)
        var right = try SecretStreamSession(isInitiator: false, staticKeyPair: rightKeys)
        try Self.connect(&c, &right)
        #expect(c.isOpen && c.remotePublicKey == rightKeys.publicKey)
    }

    @Test func keepAlivesAreDroppedOrDeliveredAsConfigured() throws {
        var (a, b) = try Self.pair()
        #expect(try b.receive(try a.keepAlive()).isEmpty)
        var c = try SecretStreamSession(isInitiator: true, staticKeyPair: Ed25519.randomKeyPair())
        var d = try SecretStreamSession(isInitiator: false, staticKeyPair: Ed25519.randomKeyPair(), dropsKeepAlives: false)
        try Self.connect(&c, &d)
        let keepAlive = try c.keepAlive()
        #expect(keepAlive.count == 3 + 17 && keepAlive.prefix(3) == [17, 0, 0])
        #expect(try d.receive(keepAlive) == [.message([])])
    }

    @Test func garbageNeverTraps() throws {
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<500 {
            var session = try SecretStreamSession(isInitiator: Bool.random(using: &rng), staticKeyPair: Ed25519.randomKeyPair())
            _ = try? session.start()
            for _ in 0..<4 { _ = try? session.receive(rng.bytes(Int.random(in: 0...120, using: &rng))) }
            try? session.receiveEnd()
        }
        let (_, b) = try Self.pair()
        for _ in 0..<2_000 {
            var copy = b
            _ = try? copy.receive(rng.bytes(Int.random(in: 0...64, using: &rng)))
        }
    }
}
