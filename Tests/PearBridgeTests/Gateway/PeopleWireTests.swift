import CompactEncoding
import Foundation
import HyperLog
import Sodium
import Testing

@testable import PearBridge

/// `pearirc/people/v1`: a gateway proves on each connection whom it speaks for, bound to that connection and side;
/// forged, reflected, replayed, malformed and repeated hellos are refused.
@Suite struct PeopleWireTests {
    let alice = Ed25519.randomKeyPair()
    let bob = Ed25519.randomKeyPair()
    let handshake = (0..<64).map { UInt8($0) }

    @Test func aHelloProvesItsPeopleOnItsConnectionAndSideOnly() throws {
        let hello = PeopleWire.hello(people: [alice, bob], handshakeHash: handshake, weAreInitiator: true)
        let decoded = try PeopleWire.Hello(compactEncoded: hello.compactEncoded())
        #expect(decoded == hello)
        #expect(PeopleWire.verify(decoded, handshakeHash: handshake, weAreInitiator: false) == [alice.publicKey, bob.publicKey])
        // Reflected back at its sender (the same side), or replayed on another connection: false.
        #expect(PeopleWire.verify(decoded, handshakeHash: handshake, weAreInitiator: true) == nil)
        #expect(PeopleWire.verify(decoded, handshakeHash: handshake.reversed(), weAreInitiator: false) == nil)
        // A proof with someone else's identity swapped in: false.
        var forged = decoded
        forged.proofs[1].identity = Ed25519.randomKeyPair().publicKey
        #expect(PeopleWire.verify(forged, handshakeHash: handshake, weAreInitiator: false) == nil)
        #expect(PeopleWire.verify(PeopleWire.Hello(proofs: []), handshakeHash: handshake, weAreInitiator: false) == [])
    }

    @Test func malformedHellosDoNotDecode() {
        let good = PeopleWire.hello(people: [alice], handshakeHash: handshake, weAreInitiator: true).compactEncoded()
        #expect(throws: (any Error).self) { try PeopleWire.Hello(compactEncoded: Array(good.dropLast())) }
        #expect(throws: (any Error).self) { try PeopleWire.Hello(compactEncoded: [0xFD, 0xFF, 0xFF, 0xFF, 0xFF]) }
        var writer = CompactByteWriter()
        writer.writeUInt(UInt64(PeopleWire.maximumPeople + 1))
        let tooMany = writer.bytes + Array(repeating: 0, count: 96 * (PeopleWire.maximumPeople + 1))
        #expect(throws: (any Error).self) { try PeopleWire.Hello(compactEncoded: tooMany) }
    }

    @Test func theStateTakesOneTrueHelloPerConnection() {
        var state = GatewayState(identity: alice, fold: GatewayStateTests.fold)
        let gateway = GatewayStateTests.key(0xB0)
        #expect(GatewayStateTests.describe(state.connect(1, remoteKey: gateway, proving: [bob])) == ["open 1 pearirc/people/v1", "people 1 \(bob.publicKey[0])"])
        #expect(state.isConnected(bob.publicKey) && !state.isConnected(gateway))
        // A second hello on the same connection is refused (nobody joins a connection midway).
        let again = PeopleWire.hello(people: [alice], handshakeHash: [], weAreInitiator: true).compactEncoded()
        #expect(GatewayStateTests.describe(state.peerEvent(.opened(protocol: PeopleWire.protocolName, id: [], handshake: again), on: 1))
            == ["reject 1 pearirc/people/v1"])
        #expect(!state.isConnected(alice.publicKey))
        // A forged one (signed for another connection) and a malformed one cost the peer its connection.
        _ = state.peerConnected(2, remoteKey: gateway)
        let replayed = PeopleWire.hello(people: [bob], handshakeHash: handshake, weAreInitiator: true).compactEncoded()
        #expect(GatewayStateTests.describe(state.peerEvent(.opened(protocol: PeopleWire.protocolName, id: [], handshake: replayed), on: 2))
            == ["disconnect 2 false people proof (claims someone it cannot prove)"])
        _ = state.peerConnected(3, remoteKey: gateway)
        #expect(GatewayStateTests.describe(state.peerEvent(.opened(protocol: PeopleWire.protocolName, id: [], handshake: [1, 2]), on: 3))
            == ["disconnect 3 malformed people proof"])
        // Bob leaves with his connection.
        _ = state.peerDisconnected(1)
        #expect(!state.isConnected(bob.publicKey))
    }
}
