import Foundation
import HyperLog

/// One room as the gateway holds it: what its entries say (`RoomState`), its writers, whether our user is in it,
/// and who is shown present. Pure; part of `GatewayState`.
struct RoomRecord: Sendable {
    /// The channel name as our user last joined it (rooms are named by it towards front ends).
    var channel: String
    let topic: RoomTopic
    let kind: RoomKind
    var state: RoomState
    /// Our own writer log's key in this room.
    let ownWriter: [UInt8]
    var writers: RoomWriters
    var joined = false
    var presence = RoomPresence()
    /// Our user joined while nobody shared the room: the alone check is pending, or done.
    var waitingForPeers = false
    /// Our user was told nobody else is here: the first peer to share the room is announced to them.
    var toldAlone = false
    /// The Lamport clock of the last local entry composed (its append may still be under way).
    var lastComposedLamport: UInt64 = 0
    /// The nick of the last local nick entry composed (its append may still be under way).
    var lastComposedNick: String?
    /// Our identity entry was composed (its append may still be under way): it is written once.
    var identityComposed = false

    /// Our own log of the room holds less than it is known to have (its store was lost or rolled back): how much it
    /// has and how much it should have, while peers give it back. Nothing can be sent in the room until then.
    var recovering: (have: UInt64, expected: UInt64)?

    /// A nick was shown for someone for the first time (the catalogue keeps who holds which nick).
    var holdersChanged = false

    /// The nick our log last recorded in this room (or is recording).
    var ownNick: String? { lastComposedNick ?? state.nicks.wish(of: ownWriter) }

    /// A room over `ledger`: what it holds of an earlier run (if anything) is read back (`RoomState(restoringFrom:)`).
    init(
        channel: String, topic: RoomTopic, kind: RoomKind = .publicRoom, ownWriter: [UInt8], rule: any WriterAdmissionRule,
        fold: @escaping @Sendable (String) -> String, ledger: any RoomLedger = MemoryRoomLedger()
    ) {
        self.channel = channel
        self.topic = topic
        self.kind = kind
        self.ownWriter = ownWriter
        state = RoomState(topic: topic, localWriter: ownWriter, fold: fold, contentKey: kind.contentKey, restoringFrom: ledger)
        writers = RoomWriters(own: ownWriter, rule: rule)
    }

    /// Who an author is: their identity once their log proved it (so one person is one member in every room), else
    /// their writer key.
    func memberID(_ author: [UInt8]) -> String {
        ZBase32.encode(state.identities[author] ?? author)
    }

    func member(_ author: [UInt8]) -> RoomMember {
        RoomMember(
            id: memberID(author), nick: state.displayNick(for: author), writer: author, identity: state.identities[author])
    }

    /// A line's msgid: the one its author's gateway recorded in the entry, else one every gateway derives the same
    /// way (the author's key prefix and the entry's index).
    static func messageID(_ line: RoomHistory.Line) -> String {
        line.entry.messageID ?? "\(ZBase32.encode(line.position.author).prefix(12))-\(line.position.index)"
    }

    /// The line a derived msgid (see `messageID(_:)`) names, if it is a chat line held without an id of its own.
    func line(derivedID id: String) -> RoomHistory.Line? {
        guard let dash = id.lastIndex(of: "-"), let index = UInt64(id[id.index(after: dash)...]) else { return nil }
        let prefix = id[..<dash]
        guard prefix.count == 12 else { return nil }
        for author in state.writerLengths.keys where ZBase32.encode(author).hasPrefix(prefix) {
            guard let lamport = state.ledger.lamport(of: author, at: index),
                let line = state.ledger.chatLine(at: RoomHistory.Position(lamport: lamport, author: author, index: index)),
                line.entry.messageID == nil
            else { continue }
            return line
        }
        return nil
    }

    /// The chat line of a history line, or nil for entries that are not chat lines (nicks, joins, topics), and, in a
    /// direct conversation, for lines of any log but ours and the other person's proven ones.
    func chatLine(_ line: RoomHistory.Line) -> RoomLine? {
        if let counterpart = kind.counterpart, line.position.author != ownWriter,
            state.identities[line.position.author] != counterpart
        {
            return nil
        }
        let kind: RoomLineKind
        switch line.entry.kind {
        case .message: kind = .message
        case .action: kind = .action
        case .notice: kind = .notice
        default: return nil
        }
        var author = member(line.position.author)
        // Shown under the nick its author had when writing it.
        author.nick = state.nick(of: line.position.author, at: line.position)
        return RoomLine(
            id: Self.messageID(line), time: Date(timeIntervalSince1970: Double(line.entry.timestamp) / 1000),
            author: author, kind: kind, text: line.entry.text, isLocal: line.position.author == ownWriter)
    }

    /// Turns what a remote author's entries did into room events (only while our user is in the room), showing the
    /// author as present on their first sign of life.
    mutating func roomEvents(for events: [RoomState.Event], author: [UInt8]) -> [RoomEvent] {
        guard joined else { return [] }
        if let counterpart = kind.counterpart {
            // A direct conversation shows only the other person's chat lines, and only from a log that proved it is
            // theirs (a log claiming another identity, or none, is read and never shown).
            guard state.identities[author] == counterpart else { return [] }
            return events.compactMap { event in
                guard case .line(let line) = event, let chat = chatLine(line) else { return nil }
                return .directLine(line: chat)
            }
        }
        var out: [RoomEvent] = []
        func ensurePresent() {
            if presence.show(author) {
                out.append(.memberJoined(room: channel, member: member(author)))
                holdersChanged = state.showed(author) || holdersChanged
            }
        }
        for event in events {
            switch event {
            case .line(let line):
                ensurePresent()
                if let chat = chatLine(line) { out.append(.line(room: channel, line: chat)) }
            case .joined:
                ensurePresent()
            case .nickChanged(let changed, _, let to):
                guard changed != ownWriter else { continue }
                if presence.isShown(changed) {
                    out.append(.memberRenamed(memberID: memberID(changed), nick: to))
                    holdersChanged = state.showed(changed) || holdersChanged
                } else if changed == author {
                    ensurePresent()
                }
            case .parted(let who, let reason):
                if presence.hide(who) { out.append(.memberLeft(room: channel, memberID: memberID(who), reason: reason)) }
            case .topicChanged(let who, let text):
                ensurePresent()
                out.append(.topicChanged(room: channel, memberID: memberID(who), topic: text))
            case .identified(let who, _):
                // Shown before its proof arrived (a log from an older version): it was a member named by its writer
                // key; now it is its person.
                guard presence.isShown(who) else { continue }
                out.append(.memberIdentified(room: channel, formerID: ZBase32.encode(who), member: member(who)))
            case .withdrawn(let line):
                // Already shown, and no IRC message can be taken back: the room is told, and the history no
                // longer has it.
                let nick = state.nick(of: line.position.author, at: line.position)
                let what = chatLine(line).map { "a line by \(nick) (\($0.id))" } ?? "an entry by \(nick)"
                out.append(.gatewayNotice(
                    room: channel,
                    text: "Withdrew \(what) from the history: its clock put it before a line it said it had seen."))
            case .skipped:
                break
            }
        }
        return out
    }
}
