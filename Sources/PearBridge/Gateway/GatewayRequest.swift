import Foundation

/// What a front end's local user did, in room terms (the IRC adapter maps IRC commands to these; the web front end
/// will too). Rooms are named by channel name; the gateway folds the case.
public enum GatewayRequest: Sendable, Hashable {
    case join(room: String, nick: String)
    /// A join with a channel key: the private room its name and key derive (`PrivateRoomKeys`, derived by the front
    /// end off the gateway's thread: it is slow on purpose), unless the channel is already joined here.
    case joinPrivate(room: String, nick: String, keys: PrivateRoomKeys)
    /// An invite accepted (`RoomInvite`): the private room is held, and a join of its channel name enters it.
    case acceptInvite(room: String, keys: PrivateRoomKeys)
    case part(room: String, reason: String)
    /// A chat line; `id` is the front end's msgid for it (kept in the entry, so echo and history agree).
    case say(room: String, kind: RoomLineKind, text: String, id: String?, time: Date)
    /// A direct message to a person, by their identity key; `id` as for `say`.
    case sayDirect(to: [UInt8], kind: RoomLineKind, text: String, id: String?, time: Date)
    case setTopic(room: String, text: String)
    /// Our user's nick changed (the nick of the most recently registered or renamed local client).
    case rename(nick: String)
}
