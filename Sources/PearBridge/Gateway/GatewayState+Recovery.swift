import Foundation

/// Our own log of a room that holds less than it is known to have (the store lost or rolled back while the keys
/// stayed): the gateway does not append to it (that would fork it, and peers would refuse everything after), it
/// replicates it back from peers, and the user is told both when it happens and when it is over.
extension GatewayState {
    /// What to tell the user about a room whose log is being recovered.
    static func recoveryNotice(channel: String, have: UInt64, expected: UInt64) -> String {
        "Your log of \(channel) is missing entries (this gateway holds \(have) of \(expected): was its store lost or "
            + "restored from an old copy?). They are being recovered from peers; nothing can be sent in \(channel) until then."
    }

    /// Our log of `topic` was found behind. Returns the notice for the room (shown now if our user is in it, and
    /// again at each join until it is whole).
    mutating func ownLogBehind(_ topic: RoomTopic, have: UInt64, expected: UInt64) -> [GatewayAction] {
        guard let room = rooms[topic] else { return [] }
        let wasRecovering = room.recovering != nil
        rooms[topic]?.recovering = (have, expected)
        guard room.joined, !wasRecovering else { return [] }
        return [.publish(.gatewayNotice(room: room.channel, text: Self.recoveryNotice(channel: room.channel, have: have, expected: expected)))]
    }

    /// Our log of `topic` is whole again.
    mutating func ownLogRecovered(_ topic: RoomTopic) -> [GatewayAction] {
        guard let room = rooms[topic], room.recovering != nil else { return [] }
        rooms[topic]?.recovering = nil
        guard room.joined else { return [] }
        return [.publish(.gatewayNotice(
            room: room.channel, text: "Your log of \(room.channel) is whole again (recovered from peers): sending works again."))]
    }

    /// The notice a join gets while the room's log is being recovered.
    func recoveryNoticeOnJoin(_ topic: RoomTopic) -> [GatewayAction] {
        guard let room = rooms[topic], let (have, expected) = room.recovering else { return [] }
        return [.publish(.gatewayNotice(room: room.channel, text: Self.recoveryNotice(channel: room.channel, have: have, expected: expected)))]
    }

    /// Why an append to `topic` was refused while it recovers, in words for the sender.
    func recoveryRefusal(_ topic: RoomTopic) -> String? {
        guard let room = rooms[topic], let (have, expected) = room.recovering else { return nil }
        return "this gateway's log of \(room.channel) is being recovered from peers (it holds \(have) of \(expected) entries)"
    }
}
