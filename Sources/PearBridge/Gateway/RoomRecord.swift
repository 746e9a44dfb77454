import Foundation
import HyperLog

/// One room as the gateway holds it: what its entries say (`RoomState`), its writers, which of the people this
/// gateway speaks for are in it (each with a writer log of their own), and who is shown present. Pure; part of
/// `GatewayState`.
struct RoomRecord: Sendable {
    /// A person this gateway speaks for, as a writer of this room: their own log, signed with the gateway's store keys
    /// and bound to the person by an identity entry, so peers show each person as themselves.
    struct LocalWriter: Sendable {
        let writer: [UInt8]
        /// A client of the person is in the room (it is announced and its lines shown while anyone here is).
        var joined = false
        /// The nick of the person's last nick entry composed (its append may still be under way).
        var lastComposedNick: String?
        /// The person's identity entry was composed (its append may still be under way): it is written once.
        var identityComposed = false
    }

    /// The channel name as our users last joined it (rooms are named by it towards front ends).
    var channel: String
    let topic: RoomTopic
    let kind: RoomKind
    var state: RoomState
    /// The room's first local writer: the one the room channel's hello names (the others are announced in writer lists,
    /// like anyone's).
    let ownWriter: [UInt8]
    /// The writers of the people this gateway speaks for, by person (identity key).
    var locals: [[UInt8]: LocalWriter]
    var writers: RoomWriters
    var presence = RoomPresence()
    /// Our user joined while nobody shared the room: the alone check is pending, or done.
    var waitingForPeers = false
    /// Our user was told nobody else is here: the first peer to share the room is announced to them.
    var toldAlone = false
    /// The Lamport clock of the last local entry composed (its append may still be under way).
    var lastComposedLamport: UInt64 = 0

    /// Our own log of the room holds less than it is known to have (its store was lost or rolled back): how much it
    /// has and how much it should have, while peers give it back. Nothing can be sent in the room until then.
    var recovering: (have: UInt64, expected: UInt64)?

    /// A nick was shown for someone for the first time (the catalogue keeps who holds which nick).
    var holdersChanged = false

    /// Whether anyone this gateway speaks for is in the room: it is announced to peers, looked for, and its events are
    /// shown.
    var joined: Bool { locals.values.contains(where: \.joined) }

    /// Whether a writer is one of ours (its lines are shown by the front ends themselves, never as a remote event).
    func isLocal(_ writer: [UInt8]) -> Bool { state.localWriters.contains(writer) }

    /// The person whose writer this is, if it is one of ours.
    func person(writing writer: [UInt8]) -> [UInt8]? {
        locals.first { $0.value.writer == writer }?.key
    }

    /// The nick the person's log last recorded in this room (or is recording).
    func ownNick(of person: [UInt8]) -> String? {
        guard let local = locals[person] else { return nil }
        return local.lastComposedNick ?? state.nicks.wish(of: local.writer)
    }

    /// A room over `ledger`, opened with `person`'s writer: what it holds of an earlier run (if anything) is read back
    /// (`RoomState(restoringFrom:)`).
    init(
        channel: String, topic: RoomTopic, kind: RoomKind = .publicRoom, person: [UInt8], ownWriter: [UInt8],
        rule: any WriterAdmissionRule, fold: @escaping @Sendable (String) -> String, ledger: any RoomLedger = MemoryRoomLedger()
    ) {
        self.channel = channel
        self.topic = topic
        self.kind = kind
        self.ownWriter = ownWriter
        locals = [person: LocalWriter(writer: ownWriter)]
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
        if let counterpart = kind.counterpart, !isLocal(line.position.author),
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
            author: author, kind: kind, text: line.entry.text, isLocal: isLocal(line.position.author))
    }

    /// Turns what a remote author's entries did into room events (only while our user is in the room), showing the
    /// author as present on their first sign of life.
    mutating func roomEvents(for events: [RoomState.Event], author: [UInt8]) -> [RoomEvent] {
        guard joined else { return [] }
        if let counterpart = kind.counterpart {
            // A direct conversation shows only the other person's chat lines, and only from a log that proved it is
            // theirs (a log claiming another identity, or none, is read and never shown).
            guard state.identities[author] == counterpart, let ours = locals.keys.first else { return [] }
            return events.compactMap { event in
                guard case .line(let line) = event, let chat = chatLine(line) else { return nil }
                return .directLine(to: ours, line: chat)
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
                guard !isLocal(changed) else { continue }
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
