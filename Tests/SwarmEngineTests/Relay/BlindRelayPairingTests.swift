import CompactEncoding
import Sodium
import Testing

@testable import SwarmEngine

/// The relay's pairing bookkeeping and messages: two requests under one token, one per side, make a pair; strangers
/// (different tokens) never meet; the limits refuse without keeping anything; a closed connection or an unpair
/// forgets what it waited on; malformed messages do not decode.
struct BlindRelayPairingTests {
    static let token = [UInt8](repeating: 0xab, count: 32)
    static let other = [UInt8](repeating: 0xcd, count: 32)

    @Test func twoSidesOfOneTokenMakeAPair() {
        var pairing = BlindRelayPairing()
        let r1 = pairing.pair(session: 1, isInitiator: true, token: Self.token, streamID: 10)
        #expect(r1 == .waiting)
        let r2 = pairing.pair(session: 1, isInitiator: true, token: Self.token, streamID: 11)
        #expect(r2 == .duplicate)
        let matched = pairing.pair(session: 2, isInitiator: false, token: Self.token, streamID: 20)
        #expect(
            matched
                == .matched(
                    initiator: .init(session: 1, isInitiator: true, streamID: 10),
                    responder: .init(session: 2, isInitiator: false, streamID: 20)))
        #expect(pairing.waitingCount == 0)
        #expect(pairing.linkCount == 1)
        pairing.linkClosed()
        #expect(pairing.linkCount == 0)
    }

    @Test func strangersNeverMeet() {
        var pairing = BlindRelayPairing()
        let r3 = pairing.pair(session: 1, isInitiator: true, token: Self.token, streamID: 10)
        #expect(r3 == .waiting)
        let r4 = pairing.pair(session: 2, isInitiator: false, token: Self.other, streamID: 20)
        #expect(r4 == .waiting)
        // A second responder under a token is not a pair either (whoever it is).
        let r5 = pairing.pair(session: 3, isInitiator: false, token: Self.other, streamID: 30)
        #expect(r5 == .duplicate)
        #expect(pairing.linkCount == 0)
        #expect(pairing.waitingCount == 2)
    }

    @Test func limitsRefuseAndKeepNothing() {
        var limits = BlindRelayPairing.Limits()
        limits.pendingPerSession = 2
        limits.pending = 3
        limits.links = 1
        var pairing = BlindRelayPairing(limits: limits)
        let tokens = (0..<6).map { [UInt8](repeating: UInt8($0), count: 32) }
        let r6 = pairing.pair(session: 1, isInitiator: true, token: tokens[0], streamID: 1)
        #expect(r6 == .waiting)
        let r7 = pairing.pair(session: 1, isInitiator: true, token: tokens[1], streamID: 2)
        #expect(r7 == .waiting)
        let r8 = pairing.pair(session: 1, isInitiator: true, token: tokens[2], streamID: 3)
        #expect(r8 == .refused(.tooManyForThisConnection))
        let r9 = pairing.pair(session: 2, isInitiator: true, token: tokens[3], streamID: 4)
        #expect(r9 == .waiting)
        let r10 = pairing.pair(session: 3, isInitiator: true, token: tokens[4], streamID: 5)
        #expect(r10 == .refused(.tooManyWaiting))
        #expect(pairing.waitingCount == 3)
        if case .matched = pairing.pair(session: 4, isInitiator: false, token: tokens[0], streamID: 6) {} else {
            Issue.record("the first pair should link")
        }
        let r11 = pairing.pair(session: 4, isInitiator: false, token: tokens[1], streamID: 7)
        #expect(r11 == .refused(.tooManyLinks))
        // The refused completion did not consume the waiting side.
        #expect(pairing.waitingCount == 2)
    }

    @Test func unpairAndClosedConnectionsForget() {
        var pairing = BlindRelayPairing()
        _ = pairing.pair(session: 1, isInitiator: true, token: Self.token, streamID: 1)
        _ = pairing.pair(session: 1, isInitiator: false, token: Self.other, streamID: 2)
        // Only the side that asked may cancel.
        let cancelledByStranger = pairing.unpair(session: 2, token: Self.token)
        #expect(!cancelledByStranger)
        let cancelled = pairing.unpair(session: 1, token: Self.token)
        #expect(cancelled)
        #expect(pairing.waitingCount == 1)
        pairing.sessionClosed(1)
        #expect(pairing.waitingCount == 0)
        let r12 = pairing.pair(session: 2, isInitiator: true, token: Self.other, streamID: 3)
        #expect(r12 == .waiting)
    }

    @Test func messagesRoundTripAndRejectMalformedBytes() throws {
        let pair = BlindRelayPair(isInitiator: true, token: Self.token, id: 70000, seq: 0)
        let bytes = pair.compactEncoded()
        // bitfield(7) is one byte; the token; the id as a compact uint (0xfe + 4 bytes); seq 0.
        #expect(bytes.count == 1 + 32 + 5 + 1)
        #expect(bytes.first == 1)
        #expect(try BlindRelayPair(compactEncoded: bytes) == pair)
        let unpair = BlindRelayUnpair(token: Self.other)
        #expect(unpair.compactEncoded() == [0] + Self.other)
        #expect(try BlindRelayUnpair(compactEncoded: unpair.compactEncoded()) == unpair)
        #expect(throws: CompactEncodingError.self) { try BlindRelayPair(compactEncoded: Array(bytes.prefix(20))) }
        #expect(throws: CompactEncodingError.self) { try BlindRelayPair(compactEncoded: bytes + [9]) }
        // A stream id beyond 32 bits.
        var wide = [UInt8(0)] + Self.token + [0xff]
        wide += [UInt8](repeating: 0xff, count: 8) + [0]
        #expect(throws: CompactEncodingError.self) { try BlindRelayPair(compactEncoded: wide) }
    }
}
