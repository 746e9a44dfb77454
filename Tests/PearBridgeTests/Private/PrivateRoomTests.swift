import CompactEncoding
import Foundation
import HyperLog
import Sodium
import Testing

@testable import PearBridge

/// Private-room keys (Argon2id of name and secret) and invites.
@Suite struct PrivateRoomKeysTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Pinned: computed with Node's sodium-native (`crypto_pwhash` Argon2id13, `crypto_generichash`) from the
    /// derivation in docs/protocol.md. Gateways whose derivations differ would never find each other's private rooms.
    @Test func theDerivationIsPinned() throws {
        let keys = try PrivateRoomKeys(foldedChannelName: "#team", secret: "s3cret")
        #expect(Self.hex(keys.root) == "37fc927edb42517c33508361d689b110179ff36c850498bfb104e4a75b0dbbbe")
        #expect(Self.hex(keys.topic.bytes) == "00854e15e756f55361d5bf3dd2b6cc0ce112df14df589496d1f4851928f6b487")
        #expect(Self.hex(keys.contentKey) == "51f35119d1e8fbc08ac760fd67f32d7c3dd1caf0c2b64213f34fe1c5e70f879e")
        // Not the public room of the same name, and another secret is another room.
        #expect(keys.topic != RoomTopic(foldedChannelName: "#team"))
        let other = try PrivateRoomKeys(foldedChannelName: "#team", secret: "s3cret!", cost: .minimum)
        let cheap = try PrivateRoomKeys(foldedChannelName: "#team", secret: "s3cret", cost: .minimum)
        #expect(other.topic != cheap.topic)
    }
}

@Suite struct RoomInviteTests {
    @Test func anInviteRoundTripsAndCarriesTheRoom() throws {
        let root = RandomBytes.generate(count: 32)
        let invite = RoomInvite(channel: "#team", root: root)
        let text = invite.description
        #expect(text.hasPrefix("pearirc:"))
        #expect(!text.contains("s3cret"))
        #expect(try RoomInvite(parsing: text) == invite)
        #expect(try RoomInvite(parsing: "  " + text.uppercased() + " ") == invite)
        #expect(PrivateRoomKeys(root: root).topic == PrivateRoomKeys(root: try RoomInvite(parsing: text).root).topic)
    }

    @Test func damagedInvitesAreRefusedWithAReason() {
        let text = RoomInvite(channel: "#team", root: RandomBytes.generate(count: 32)).description
        #expect(throws: RoomInvite.Failure.notAnInvite) { try RoomInvite(parsing: "#team") }
        #expect(throws: RoomInvite.Failure.malformed) { try RoomInvite(parsing: String(text.dropLast(8))) }
        #expect(throws: RoomInvite.Failure.malformed) { try RoomInvite(parsing: "pearirc:0000") }
        #expect(throws: RoomInvite.Failure.malformed) { try RoomInvite(parsing: "pearirc:!!!") }
        #expect(throws: RoomInvite.Failure.malformed) { try RoomInvite(parsing: text + "yy") }
        var writer = CompactByteWriter()
        writer.writeUInt(2)
        #expect(throws: RoomInvite.Failure.unknownVersion(2)) { try RoomInvite(parsing: "pearirc:" + ZBase32.encode(writer.bytes)) }
        // Random text after the prefix never traps.
        for _ in 0..<300 {
            let junk = String((0..<Int.random(in: 0..<80)).map { _ in "ybndrfg8ejkmcpqxot1uwisza345h769".randomElement()! })
            _ = try? RoomInvite(parsing: "pearirc:" + junk)
        }
    }
}
