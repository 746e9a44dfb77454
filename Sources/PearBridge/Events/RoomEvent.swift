import Foundation
import HyperLog

/// A person as a room shows them: the author of one writer log, named by their proven identity when there is one.
///
/// Front ends build their own view from it (the IRC adapter a hostmask and WHOIS lines, the web front end a
/// member list entry); nothing here is specific to one of them.
public struct RoomMember: Hashable, Sendable {
    /// Stable across nick changes and rooms: the z-base-32 identity key once the writer's log proved one
    /// (`WriterIdentity`), else the writer key itself.
    public var id: String
    /// The display nick, already made unique within the room (`NickDirectory`).
    public var nick: String
    /// The member's writer log in this room.
    public var writer: [UInt8]
    /// The identity the writer log proved, if it did.
    public var identity: [UInt8]?

    public init(id: String, nick: String, writer: [UInt8], identity: [UInt8]?) {
        self.id = id
        self.nick = nick
        self.writer = writer
        self.identity = identity
    }
}

/// What a chat line is. Front ends decide how to show each (IRC wraps an action in CTCP ACTION).
public enum RoomLineKind: Hashable, Sendable {
    case message
    case action
    case notice
}

/// One chat line of a room, live or from history.
public struct RoomLine: Hashable, Sendable {
    /// The msgid: the one its author's gateway recorded, else one every gateway derives the same way.
    public var id: String
    /// The author's wall clock when writing it.
    public var time: Date
    public var author: RoomMember
    public var kind: RoomLineKind
    /// The text as its author wrote it: untrusted, uncut. Front ends clean and split it for their medium.
    public var text: String
    /// Whether this gateway's own user wrote it.
    public var isLocal: Bool

    public init(id: String, time: Date, author: RoomMember, kind: RoomLineKind, text: String, isLocal: Bool) {
        self.id = id
        self.time = time
        self.author = author
        self.kind = kind
        self.text = text
        self.isLocal = isLocal
    }
}

/// What happened in a room because of other people: the bridge's output to every front end (IRC today, the web
/// front end next). Rooms are named by the channel name the local user joined them with.
public enum RoomEvent: Hashable, Sendable {
    /// A remote member is now shown in the room.
    case memberJoined(room: String, member: RoomMember)
    case memberLeft(room: String, memberID: String, reason: String)
    /// A remote member's display nick changed (their own nick entry, or a collision being resolved).
    case memberRenamed(memberID: String, nick: String)
    /// A member shown under their writer key proved their identity: the same person, now under their identity's id.
    case memberIdentified(room: String, formerID: String, member: RoomMember)
    case line(room: String, line: RoomLine)
    case topicChanged(room: String, memberID: String, topic: String)
    /// When the room began, as far as this gateway knows (its earliest entry): the same after every restart.
    case roomBegan(room: String, time: Date)
    /// A notice from the gateway itself (to one room, or to everyone when nil).
    case gatewayNotice(room: String?, text: String)
    /// A direct message to one of our people (`to`, their identity key) from the line's author (a person, by their
    /// proven identity).
    case directLine(to: [UInt8], line: RoomLine)
    /// One of our people (`person`) may not enter the room a channel name means here (someone else's private room,
    /// joined without its key): their front ends take them out of it, saying why.
    case joinRefused(room: String, person: [UInt8], reason: String)
}
