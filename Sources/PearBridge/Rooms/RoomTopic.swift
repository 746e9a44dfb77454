import HyperLog
import Sodium

/// The 32-byte swarm topic of an IRC channel: what peers announce and look up to find each other's logs.
///
/// Version 1: `topic = BLAKE2b-256(NS ‖ UTF-8(folded channel name))` with `NS = namespace("pearirc/room", 1)[0]`
/// (the Holepunch namespace construction) and the name folded with IRC's rfc1459 casemapping by the caller, so
/// `#Rust` and `#rust` are the same room on every gateway. The version is part of the namespace name; a future
/// derivation gets a new name and never collides with this one.
public struct RoomTopic: Hashable, Sendable, CustomStringConvertible {
    public static let namespace = HolepunchNamespace.derive("pearirc/room", count: 1)[0]

    /// Always 32 bytes.
    public let bytes: [UInt8]

    /// The topic of a channel whose name is already case-folded.
    public init(foldedChannelName: String) {
        bytes = BLAKE2b.hash256(Self.namespace + Array(foldedChannelName.utf8))
    }

    /// A topic from its bytes; nil unless exactly 32.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// What the room is announced and looked up under on the DHT (the swarm topic):
    /// `BLAKE2b-256(NS ‖ topic)` with `NS = namespace("pearirc/room-discovery", 1)[0]`. A one-way function of the
    /// room topic, so what the DHT's nodes see reveals nothing the room topic (already exchanged with every peer)
    /// does not, while a node that stores it cannot open the room's protomux channel with it.
    public var discoveryTopic: [UInt8] { BLAKE2b.hash256(Self.discoveryNamespace + bytes) }

    public static let discoveryNamespace = HolepunchNamespace.derive("pearirc/room-discovery", count: 1)[0]

    /// The name of the user's own log for this room inside the store (`room/<z-base-32 topic>`).
    public var logName: String { "room/" + ZBase32.encode(bytes) }

    public var description: String { ZBase32.encode(bytes) }
}
