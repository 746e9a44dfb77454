import HyperLog
import Sodium

/// The keys of a private room (`JOIN #team s3cret`, docs/protocol.md "Private rooms"): everything derives from
/// `root = Argon2id(UTF-8(folded name) ‖ 0x00 ‖ UTF-8(secret))`, slow on purpose, so neither a guessed name alone
/// nor a topic seen on the DHT leads to the room, and the secret cannot be brute-forced cheaply from a topic. An
/// invite carries the root itself (`RoomInvite`), so accepting one costs no derivation.
public struct PrivateRoomKeys: Sendable, Hashable {
    public static let namespace = HolepunchNamespace.derive("pearirc/private-room", count: 2)
    /// Fixed for every private room: the name is in the password, so the salt need not vary to keep rooms apart.
    public static let salt = Array(BLAKE2b.hash256(Array("pearirc/private-room".utf8)).prefix(Argon2idKey.saltLength))
    /// Argon2id's cost: 3 passes over 64 MiB (libsodium's "moderate" memory, "interactive"-like passes): measured per
    /// join in docs/benchmarks.md.
    public static let cost = PasswordHash.Cost(operations: 3, memoryBytes: 64 << 20)

    public let root: [UInt8]
    /// Used in place of the public derivation: a private #team and a public #team are different rooms.
    public let topic: RoomTopic
    /// What seals every block of the room's logs (`SealedEntry`).
    public let contentKey: [UInt8]

    /// From the channel name (case-folded by the caller) and the secret.
    public init(foldedChannelName: String, secret: String, cost: PasswordHash.Cost = Self.cost) throws(SodiumError) {
        let password = Array(foldedChannelName.utf8) + [0] + Array(secret.utf8)
        try self.init(root: Argon2idKey.derive(password: password, salt: Self.salt, cost: cost))
    }

    /// Where a connection's room channel and its members' proofs come from (docs/protocol.md, "Private rooms").
    public static let channelNamespace = HolepunchNamespace.derive("pearirc/private-room-channel", count: 2)

    /// The room's `pearirc/room/v1` channel id on one connection: `BLAKE2b-256(key: root, NS[0] ‖ handshake hash)`.
    /// Both ends compute it (they share the Noise handshake hash); it names the room on this connection only, so a
    /// gateway that sees it learns nothing it could use elsewhere, and the room's topic is never sent.
    public func channelID(handshakeHash: [UInt8]) -> [UInt8] {
        (try? BLAKE2b.hash(Self.channelNamespace[0] + handshakeHash, key: root)) ?? []
    }

    /// What a member's hello carries to show it holds the root: `BLAKE2b-256(key: root, NS[1] ‖ handshake hash ‖
    /// role)`, role 1 for the connection's initiator, 0 for its responder, so the other side's proof cannot be echoed.
    public func proof(handshakeHash: [UInt8], initiator: Bool) -> [UInt8] {
        (try? BLAKE2b.hash(Self.channelNamespace[1] + handshakeHash + [initiator ? 1 : 0], key: root)) ?? []
    }

    /// From a root an invite carried.
    public init(root: [UInt8]) {
        self.root = root
        // 32 bytes in, 32 out: the topic is always valid.
        topic = RoomTopic(bytes: BLAKE2b.hash256(Self.namespace[0] + root))!
        contentKey = BLAKE2b.hash256(Self.namespace[1] + root)
    }
}
