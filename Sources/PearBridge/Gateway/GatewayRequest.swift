import Foundation

/// What a front end's local user did, in room terms (the IRC adapter maps IRC commands to these; the web front end
/// will too). Rooms are named by channel name; the gateway folds the case.
public enum GatewayRequest: Sendable, Hashable {
    case join(room: String, nick: String)
    case part(room: String, reason: String)
    /// A chat line; `id` is the front end's msgid for it (kept in the entry, so echo and history agree).
    case say(room: String, kind: RoomLineKind, text: String, id: String?, time: Date)
    /// A direct message to a person, by their identity key; `id` as for `say`.
    case sayDirect(to: [UInt8], kind: RoomLineKind, text: String, id: String?, time: Date)
    case setTopic(room: String, text: String)
    /// Our user's nick changed (the nick of the most recently registered or renamed local client).
    case rename(nick: String)
}
