import CompactEncoding
import HyperLog

/// Everything a gateway knows about one room, built from the verified entries of every writer's log: the ordered
/// history, who is who, and what to tell the IRC side about each new entry.
///
/// The rules are pure: the bridge feeds it blocks (after HyperLog verified them) and asks it to compose local lines;
/// it never touches logs or sockets itself. What grows with the history (the entries, their clocks, claimed msgids,
/// awaited heads, how far each writer was read) lives in its `RoomLedger`: in memory for tests, in SQLite for a
/// gateway, where a restart reads back only the few facts below (`init(restoringFrom:)`), not the history.
public struct RoomState: Sendable {
    /// What an ingested entry means for IRC clients.
    public enum Event: Hashable, Sendable {
        /// A message, action or notice line.
        case line(RoomHistory.Line)
        /// An author's display nick changed (from their own nick entry or a collision being resolved).
        case nickChanged(author: [UInt8], from: String, to: String)
        case joined(author: [UInt8])
        case parted(author: [UInt8], reason: String)
        case topicChanged(author: [UInt8], topic: String)
        /// An author proved whose log this is (`WriterIdentity`).
        case identified(author: [UInt8], identity: [UInt8])
        /// A block that is not a valid room entry, or a newer format this version cannot show.
        case skipped(author: [UInt8], index: UInt64)
        /// An entry held already turned out to break causality once an entry its heads name arrived (its clock was not
        /// above that entry's): it was shown, and now leaves the history.
        case withdrawn(RoomHistory.Line)
    }

    public let topic: RoomTopic
    /// The writer of the gateway's first person in this room (what a one-person gateway writes with).
    public let localWriter: [UInt8]
    /// Every writer of a person this gateway speaks for (`localWriter` and those added with `addLocalWriter`): their
    /// entries are composed here, their nicks are reserved against remote look-alikes, and they are shown under the
    /// nick their person has now (issue 20: several people on one gateway).
    public private(set) var localWriters: Set<[UInt8]>
    public private(set) var ledger: any RoomLedger
    public private(set) var nicks: NickDirectory
    /// Per writer: entries ingested from index 0 without a gap (what our heads report).
    public private(set) var writerLengths: [[UInt8]: UInt64] = [:]
    /// The room topic text, from the latest topic entry in history order.
    public private(set) var topicText: (text: String, position: RoomHistory.Position)?
    /// The oldest author timestamp of any entry, in milliseconds: when the room began, as far as we know.
    public private(set) var earliestTimestamp: UInt64?
    /// The newest author timestamp of a message, action or notice line (CHATHISTORY TARGETS), in milliseconds.
    public private(set) var latestLineTimestamp: UInt64?
    private var pendingByWriter: [[UInt8]: Set<UInt64>] = [:]
    /// Local writer → its person's nick now.
    private var localNicks: [[UInt8]: String] = [:]
    /// The local people's nicks, folded: no remote author is shown under one of them.
    private var reservedNicks = Set<String>()
    /// Writer → the identity its `identity` entry proved. The first valid proof counts.
    public private(set) var identities: [[UInt8]: [UInt8]] = [:]

    /// A room with an empty ledger.
    public init(
        topic: RoomTopic, localWriter: [UInt8], fold: @escaping @Sendable (String) -> String,
        contentKey: [UInt8]? = nil, ledger: any RoomLedger = MemoryRoomLedger()
    ) {
        self.topic = topic
        self.localWriter = localWriter
        localWriters = [localWriter]
        self.fold = fold
        self.contentKey = contentKey
        self.ledger = ledger
        nicks = NickDirectory(fold: fold)
    }

    /// A room whose ledger holds what an earlier run ingested: the few facts kept beside the history (writer
    /// progress, nicks, identities, topic, the time range) are read back from it; the history itself stays there.
    public init(
        topic: RoomTopic, localWriter: [UInt8], fold: @escaping @Sendable (String) -> String,
        contentKey: [UInt8]? = nil, restoringFrom ledger: any RoomLedger
    ) {
        self.init(topic: topic, localWriter: localWriter, fold: fold, contentKey: contentKey, ledger: ledger)
        for (writer, progress) in ledger.progress() {
            writerLengths[writer] = progress.length
            if !progress.pending.isEmpty { pendingByWriter[writer] = progress.pending }
        }
        // Entries of these kinds are few (one per nick change, topic, writer), so a start reads them all; in history
        // order, as they were decided when first ingested.
        for line in ledger.entries(ofKinds: [.nick, .topic, .identity]) {
            let author = line.position.author
            switch line.entry.kind {
            case .nick: nicks.claim(author: author, nick: line.entry.text, position: line.position)
            case .topic: _ = recordTopic(line.entry.text, at: line.position)
            case .identity: _ = recordIdentity(line.entry.text, of: author)
            default: break
            }
        }
        earliestTimestamp = ledger.earliestTimestamp
        latestLineTimestamp = ledger.latestChatTimestamp
    }

    private let fold: @Sendable (String) -> String
    /// The key every block is sealed with (`SealedEntry`: direct conversations), nil for entries in the clear. A block
    /// that does not open with it is skipped, as a malformed entry is.
    public let contentKey: [UInt8]?

    /// Another person this gateway speaks for writes in this room with `writer`.
    public mutating func addLocalWriter(_ writer: [UInt8]) {
        localWriters.insert(writer)
    }

    /// A local person's IRC nick (reserved against remote authors): the person writing with `writer`, the first one by
    /// default.
    public mutating func setLocalNick(_ nick: String, for writer: [UInt8]? = nil) {
        localNicks[writer ?? localWriter] = nick
        reservedNicks = Set(localNicks.values.map(fold))
    }

    /// The nick a line at `position` by `author` is shown under: the one they had when writing it (their nick entries
    /// are in the log), not today's.
    public func nick(of author: [UInt8], at position: RoomHistory.Position) -> String {
        let nick = nicks.nick(of: author, at: position) ?? NickDirectory.fallbackNick(for: author)
        // As live: a remote author never appears under a local person's nick.
        if !localWriters.contains(author), reservedNicks.contains(fold(nick)) { return NickDirectory.suffixed(nick, author: author) }
        return nick
    }

    /// Who holds which nick here (folded nick → writer), for the catalogue.
    public var nickHolders: [String: [UInt8]] { nicks.holders }

    public mutating func restoreNickHolders(_ holders: [String: [UInt8]]) {
        nicks.restoreHolders(holders)
    }

    /// `author` was shown to a front end under their current display nick (see `NickDirectory.markShown`). Returns
    /// whether the room's nick holders changed.
    public mutating func showed(_ author: [UInt8]) -> Bool {
        guard !localWriters.contains(author) else { return false }
        return nicks.markShown(author, reserved: reservedNicks)
    }

    public func displayNick(for author: [UInt8]) -> String {
        if localWriters.contains(author), let nick = localNicks[author] { return nick }
        return nicks.displayNick(for: author, reserved: reservedNicks)
    }

    /// Ingests block `index` of `author`'s log. Entries already ingested are ignored (returns no events).
    public mutating func ingest(author: [UInt8], index: UInt64, block: [UInt8]) -> [Event] {
        ingest(author: author, from: index, blocks: [block])[0]
    }

    /// Ingests consecutive blocks of one writer's log, from index `first`; returns each block's events, in order. The
    /// writer's progress is written to the ledger once for the lot.
    public mutating func ingest(author: [UInt8], from first: UInt64, blocks: [[UInt8]]) -> [[Event]] {
        let events = blocks.enumerated().map { offset, block in
            ingestEntry(author: author, index: first + UInt64(offset), block: block)
        }
        ledger.setProgress(of: author, length: writerLengths[author, default: 0], pending: pendingByWriter[author] ?? [])
        return events
    }

    /// One block: the writer's progress in memory, then the entry's rules (the caller saves the progress).
    private mutating func ingestEntry(author: [UInt8], index: UInt64, block: [UInt8]) -> [Event] {
        var ingested = pendingByWriter[author, default: []]
        let contiguous = writerLengths[author, default: 0]
        guard index >= contiguous, !ingested.contains(index) else { return [] }
        ingested.insert(index)
        var length = contiguous
        while ingested.remove(length) != nil { length += 1 }
        pendingByWriter[author] = ingested.isEmpty ? nil : ingested
        writerLengths[author] = length

        var plain = block
        if let contentKey {
            do { plain = try SealedEntry.open(block, key: contentKey, writer: author) } catch {
                return [.skipped(author: author, index: index)]
            }
        }
        let decoded: RoomEntry.Decoded
        do { decoded = try RoomEntry.decode(plain) } catch { return [.skipped(author: author, index: index)] }
        guard case .entry(var entry) = decoded else { return [.skipped(author: author, index: index)] }
        // The clock an author chooses must follow causality, or an attacker could place lines early in history: above
        // the author's own previous entry, and above every entry its heads say it had seen, where we hold those.
        guard let awaited = awaitedHeadsIfCausal(entry, author: author, index: index) else {
            return [.skipped(author: author, index: index)]
        }
        let withdrawn = withdrawEntriesThatClaimedToHaveSeen(author: author, index: index, lamport: entry.lamport)
        // A line keeps its msgid only inside its author's proven namespace, and only once: nobody can take (or
        // pre-empt) another person's ids, and a repeat gets the derived id.
        if let id = entry.messageID,
            !(Self.owns(identity: identities[author], messageID: id) && !ledger.isClaimed(messageID: id))
        {
            entry.messageID = nil
        }
        let position = RoomHistory.Position(lamport: entry.lamport, author: author, index: index)
        let line = RoomHistory.Line(position: position, entry: entry)
        guard ledger.insert(line) else { return withdrawn }
        for head in awaited { ledger.await(head, by: RoomLedgerWaiter(author: author, index: index, lamport: entry.lamport)) }
        earliestTimestamp = min(earliestTimestamp ?? entry.timestamp, entry.timestamp)

        return withdrawn + events(of: entry, line: line, author: author, index: index)
    }

    /// What ingesting a valid entry (already in the history when it is a line) changes.
    private mutating func events(of entry: RoomEntry, line: RoomHistory.Line, author: [UInt8], index: UInt64) -> [Event] {
        let position = line.position
        switch entry.kind {
        case .message, .action, .notice:
            latestLineTimestamp = max(latestLineTimestamp ?? 0, entry.timestamp)
            return [.line(line)]
        case .nick:
            let before = snapshotNicks()
            nicks.claim(author: author, nick: entry.text, position: position)
            return nickChanges(since: before)
        case .join:
            return [.joined(author: author)]
        case .part:
            return [.parted(author: author, reason: entry.text)]
        case .topic:
            return recordTopic(entry.text, at: position) ? [.topicChanged(author: author, topic: entry.text)] : []
        case .identity:
            guard let identity = recordIdentity(entry.text, of: author) else { return [.skipped(author: author, index: index)] }
            return [.identified(author: author, identity: identity)]
        }
    }

    /// A topic entry: it is the room's topic unless a later one (in history order) is already. Returns whether it is.
    private mutating func recordTopic(_ text: String, at position: RoomHistory.Position) -> Bool {
        if let current = topicText, !(current.position < position) { return false }
        topicText = (text, position)
        return true
    }

    /// An identity entry: the first valid proof binds the writer to its person. Returns the identity it bound, if so.
    private mutating func recordIdentity(_ text: String, of author: [UInt8]) -> [UInt8]? {
        guard identities[author] == nil, let identity = WriterIdentity.verify(entryText: text, topic: topic, writer: author)
        else { return nil }
        identities[author] = identity
        return identity
    }

    /// The entries that named `author`'s entry `index` in their heads, before it was held, with a clock not above its
    /// own: they claimed to have seen it, so their clock lied about their order. They leave the history.
    private mutating func withdrawEntriesThatClaimedToHaveSeen(author: [UInt8], index: UInt64, lamport: UInt64) -> [Event] {
        var events: [Event] = []
        for waiter in ledger.takeWaiters(of: RoomLedgerHead(writer: author, index: index)) where waiter.lamport <= lamport {
            if let line = ledger.remove(RoomHistory.Position(lamport: waiter.lamport, author: waiter.author, index: waiter.index)) {
                events.append(.withdrawn(line))
            }
        }
        return events
    }

    /// Whether `entry` (the author's entry at `index`) has a clock above the author's previous entry and above the
    /// entries its heads name, as far as they are held (nil when it has not); if it has, the heads it names that are
    /// not held yet, to be checked when they arrive (display never waits on them).
    private func awaitedHeadsIfCausal(_ entry: RoomEntry, author: [UInt8], index: UInt64) -> [RoomLedgerHead]? {
        if index > 0, let previous = ledger.lamport(of: author, at: index - 1), previous >= entry.lamport { return nil }
        // An entry after this one, held already, must stay above it.
        if index < UInt64.max, let next = ledger.lamport(of: author, at: index + 1), next <= entry.lamport { return nil }
        var awaited: [RoomLedgerHead] = []
        for head in entry.heads where head.length > 0 && head.writer != author {
            if let seen = ledger.lamport(of: head.writer, at: head.length - 1) {
                if seen >= entry.lamport { return nil }
            } else {
                awaited.append(RoomLedgerHead(writer: head.writer, index: head.length - 1))
            }
        }
        return awaited
    }

    /// The text every msgid made for `identity` starts with: the first 12 z-base-32 characters of the key and a `.`.
    public static func messageIDNamespace(for identity: [UInt8]) -> String {
        String(ZBase32.encode(identity).prefix(12)) + "."
    }

    static func owns(identity: [UInt8]?, messageID: String) -> Bool {
        guard let identity else { return false }
        return messageID.hasPrefix(messageIDNamespace(for: identity))
    }

    /// A new local entry: its Lamport clock exceeds everything seen, and its heads record every other writer's
    /// ingested length (the other local people's too). The caller appends `entry.encoded()` to the log of `writer` (a
    /// local writer; the first person's by default) and then ingests it back.
    public func composeLocal(
        kind: RoomEntry.Kind, text: String, timestamp: UInt64, messageID: String? = nil, by writer: [UInt8]? = nil
    ) -> RoomEntry {
        let author = writer ?? localWriter
        let heads = writerLengths.filter { $0.key != author && $0.value > 0 }
            .map { RoomEntry.Head(writer: $0.key, length: $0.value) }
            .sorted { $0.writer.lexicographicallyPrecedes($1.writer) }
        return RoomEntry(
            kind: kind, timestamp: timestamp, lamport: ledger.maximumLamport + 1, heads: heads, text: text,
            messageID: messageID)
    }

    /// What a new local entry is made of, for `composeLocal(_:)`.
    public struct LocalLine: Hashable, Sendable {
        public var kind: RoomEntry.Kind
        public var text: String
        public var timestamp: UInt64
        public var messageID: String?

        public init(kind: RoomEntry.Kind, text: String, timestamp: UInt64, messageID: String? = nil) {
            self.kind = kind
            self.text = text
            self.timestamp = timestamp
            self.messageID = messageID
        }
    }

    /// Several new local entries to append as one batch: each one's Lamport clock is one above the previous, the
    /// first one above everything seen and above `floor` (local entries composed earlier whose append is still under
    /// way), so they keep their order in history once ingested.
    public func composeLocal(_ lines: [LocalLine], above floor: UInt64 = 0, by writer: [UInt8]? = nil) -> [RoomEntry] {
        let base = max(ledger.maximumLamport, floor) + 1
        return lines.enumerated().map { offset, line in
            var entry = composeLocal(
                kind: line.kind, text: line.text, timestamp: line.timestamp, messageID: line.messageID, by: writer)
            entry.lamport = base + UInt64(offset)
            return entry
        }
    }

    private func snapshotNicks() -> [[UInt8]: String] {
        var names: [[UInt8]: String] = [:]
        for author in writerLengths.keys { names[author] = displayNick(for: author) }
        return names
    }

    /// One nick entry can rename its author and un-suffix or suffix others.
    private func nickChanges(since before: [[UInt8]: String]) -> [Event] {
        var events: [Event] = []
        for author in writerLengths.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let now = displayNick(for: author)
            let previous = before[author] ?? NickDirectory.fallbackNick(for: author)
            if now != previous { events.append(.nickChanged(author: author, from: previous, to: now)) }
        }
        return events
    }
}
