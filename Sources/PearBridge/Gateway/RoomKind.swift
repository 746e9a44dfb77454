import HyperLog

/// What kind of conversation a `RoomRecord` holds: a public room (entries in the clear, found by its name), a private
/// room (found and sealed by keys derived from its name and secret), or a direct conversation between our identity and
/// one other (entries sealed with the pair's content key, its channel opened only with that identity; docs/protocol.md,
/// "Direct messages and private rooms").
enum RoomKind: Sendable, Equatable {
    case publicRoom
    /// A channel joined with a key (docs/protocol.md, "Private rooms"): found and read only with the keys its name and
    /// secret derive.
    case privateRoom(PrivateRoomKeys)
    case direct(DirectConversationKeys)

    /// The key every block of the room's logs is sealed with (`SealedEntry`); nil for entries in the clear.
    var contentKey: [UInt8]? {
        switch self {
        case .publicRoom: nil
        case .privateRoom(let keys): keys.contentKey
        case .direct(let keys): keys.contentKey
        }
    }

    /// A private room's keys.
    var privateKeys: PrivateRoomKeys? {
        if case .privateRoom(let keys) = self { keys } else { nil }
    }

    /// The identity on the other side of a direct conversation.
    var counterpart: [UInt8]? {
        if case .direct(let keys) = self { keys.counterpart } else { nil }
    }

    var isDirect: Bool { counterpart != nil }

    /// The protomux protocol of the room's channel on a connection.
    var channelProtocol: String {
        isDirect ? DirectWire.protocolName : RoomWire.protocolName
    }

    /// Most writer logs a direct conversation admits: its two people's (a person whose store was lost writes a new
    /// log), bounded so a counterpart cannot make us open logs without end.
    static let directWriters = 8
}

/// The `pearirc/dm/v1` channel of a direct conversation (id = the conversation's topic, handshake = `RoomWire.Hello`
/// with the sender's own log of it). Opened only on a connection whose remote identity is the other person, refused
/// on any other; both logs then replicate on `hypercore/alpha` on that connection. No messages: the hello is all.
enum DirectWire {
    static let protocolName = "pearirc/dm/v1"
}
