import Foundation
import HyperLog
import Sodium
import SwarmEngine
import Testing

@testable import PearBridge

/// A private room's channel in `GatewayState`: its id is bound to the root and the connection (the topic is never
/// sent), and only a hello carrying the root's proof for the peer's role pairs: a gateway that echoes our open, or
/// guesses, shares nothing.
@Suite struct PrivateRoomStateTests {
    static let hash = Array(repeating: UInt8(7), count: 64)
    static let peerWriter = GatewayStateTests.key(2)

    static func state(_ keys: PrivateRoomKeys) -> GatewayState {
        var state = GatewayState(identity: Ed25519.randomKeyPair(), fold: GatewayStateTests.fold)
        _ = state.nameRoom("#team", private: keys)
        state.roomOpened(channel: "#team", ownWriter: GatewayStateTests.key(1), kind: .privateRoom(keys))
        _ = state.joined(channel: "#team", nick: "alice", at: Date())
        return state
    }

    static func openID(_ actions: [GatewayAction]) -> ([UInt8], RoomWire.Hello)? {
        for case .openChannel(_, RoomWire.protocolName, let id, let handshake) in actions {
            return (id, try! RoomWire.Hello(compactEncoded: handshake))
        }
        return nil
    }

    @Test func onlyAHolderOfTheRootPairsAndTheTopicIsNeverSent() throws {
        let keys = PrivateRoomKeys(root: Array(repeating: 3, count: 32))
        var state = Self.state(keys)
        // We dialled: our open's id is the connection's, not the topic, and our hello proves the initiator's role.
        let (id, hello) = try #require(Self.openID(state.peerConnected(1, remoteKey: GatewayStateTests.key(9), handshakeHash: Self.hash, isInitiator: true)))
        #expect(id != keys.topic.bytes && id == keys.channelID(handshakeHash: Self.hash))
        #expect(hello.proof == keys.proof(handshakeHash: Self.hash, initiator: true))

        // The peer echoes our own hello back: no pairing, the channel is closed, nothing is replicated.
        let echoed = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: id, handshake: hello.compactEncoded()), on: 1)
        #expect(GatewayStateTests.describe(echoed) == ["close 1 \(RoomWire.protocolName)"])
        // A hello with no proof: the same.
        _ = state.announce(keys.topic, on: 1)
        let bare = state.peerEvent(.opened(protocol: RoomWire.protocolName, id: id, handshake: GatewayStateTests.hello(Self.peerWriter)), on: 1)
        #expect(GatewayStateTests.describe(bare) == ["close 1 \(RoomWire.protocolName)"])

        // The room's topic used as a channel id is refused outright.
        #expect(GatewayStateTests.describe(state.peerEvent(.opened(protocol: RoomWire.protocolName, id: keys.topic.bytes, handshake: hello.compactEncoded()), on: 1))
            == ["reject 1 \(RoomWire.protocolName)"])

        // A member (the responder) proves its role: paired, writers shared and replicated.
        _ = state.announce(keys.topic, on: 1)
        let member = RoomWire.Hello(ownWriter: Self.peerWriter, proof: keys.proof(handshakeHash: Self.hash, initiator: false))
        let paired = GatewayStateTests.describe(state.peerEvent(.opened(protocol: RoomWire.protocolName, id: id, handshake: member.compactEncoded()), on: 1))
        #expect(paired.contains("writers 1 1") && paired.contains("replicate 1 2"))
        #expect(state.sharingPeers(of: keys.topic) == 1)
    }

    @Test func anOpenThatCameBeforeWeHeldTheRoomIsAnsweredWhenWeJoin() throws {
        let keys = PrivateRoomKeys(root: Array(repeating: 4, count: 32))
        var state = GatewayState(identity: Ed25519.randomKeyPair(), fold: GatewayStateTests.fold)
        _ = state.peerConnected(1, remoteKey: GatewayStateTests.key(9), handshakeHash: Self.hash, isInitiator: false)
        let member = RoomWire.Hello(ownWriter: Self.peerWriter, proof: keys.proof(handshakeHash: Self.hash, initiator: true))
        #expect(state.peerEvent(.opened(protocol: RoomWire.protocolName, id: keys.channelID(handshakeHash: Self.hash), handshake: member.compactEncoded()), on: 1).isEmpty)
        _ = state.nameRoom("#team", private: keys)
        state.roomOpened(channel: "#team", ownWriter: GatewayStateTests.key(1), kind: .privateRoom(keys))
        let joined = GatewayStateTests.describe(state.joined(channel: "#team", nick: "alice", at: Date()))
        #expect(joined.contains("open 1 \(RoomWire.protocolName)") && joined.contains("replicate 1 2"))
        #expect(state.sharingPeers(of: keys.topic) == 1)
    }
}
