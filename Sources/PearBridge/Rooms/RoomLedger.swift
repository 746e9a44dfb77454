/// Where a room keeps what grows with its history: every valid entry in the agreed order (which doubles as the
/// per-writer Lamport clocks the causality check looks up), the msgids claimed, the heads still awaited, and how far
/// each writer's log has been read.
///
/// `RoomState` decides (pure rules); a ledger only remembers. Two kinds: `MemoryRoomLedger` (a value, for tests and
/// short-lived rooms) and `StoredRoomLedger` (SQLite, so a room's memory and start-up time do not grow with its
/// history). Both must answer alike; `RoomLedgerParityTests` feeds them the same entries.
public protocol RoomLedger: Sendable {
    /// The Lamport clock of `author`'s valid entry at `index`, if held.
    func lamport(of author: [UInt8], at index: UInt64) -> UInt64?
    /// Records a valid entry. Returns false (and records nothing) when its position is held already.
    mutating func insert(_ line: RoomHistory.Line) -> Bool
    /// Forgets a valid entry (it turned out to break causality); returns it, or nil when it was not held.
    mutating func remove(_ position: RoomHistory.Position) -> RoomHistory.Line?
    /// Whether an entry held kept this msgid (claimed it).
    func isClaimed(messageID: String) -> Bool
    /// The highest Lamport clock held (0 for none).
    var maximumLamport: UInt64 { get }

    /// Remembers that the entry (`waiter`) named `head` in its heads before `head` was held.
    mutating func await(_ head: RoomLedgerHead, by waiter: RoomLedgerWaiter)
    /// The entries waiting on `head`, which are forgotten.
    mutating func takeWaiters(of head: RoomLedgerHead) -> [RoomLedgerWaiter]

    /// How far a writer's log has been read: `length` entries from index 0 without a gap, plus indices past a gap.
    mutating func setProgress(of author: [UInt8], length: UInt64, pending: Set<UInt64>)
    /// Every writer's progress as last set.
    func progress() -> [[UInt8]: (length: UInt64, pending: Set<UInt64>)]

    /// Valid entries of these kinds, in history order (for a start: nicks, topics and identities are few).
    func entries(ofKinds kinds: Set<RoomEntry.Kind>) -> [RoomHistory.Line]
    /// The oldest author timestamp of any entry held.
    var earliestTimestamp: UInt64? { get }
    /// The newest author timestamp of a chat line held.
    var latestChatTimestamp: UInt64? { get }

    /// The chat line (message, action, notice) at `position`, if held.
    func chatLine(at position: RoomHistory.Position) -> RoomHistory.Line?
    /// The chat line that kept this msgid.
    func chatLine(claiming messageID: String) -> RoomHistory.Line?
    /// The chat line with the earliest timestamp at or after `milliseconds` (the lowest position among equals).
    func firstChatLine(atOrAfter milliseconds: UInt64) -> RoomHistory.Line?
    /// Up to `limit` chat lines strictly between the bounds (nil: open), oldest first; `newest` takes the ones nearest
    /// `upper` rather than `lower`.
    func chatLines(after lower: RoomHistory.Position?, before upper: RoomHistory.Position?, limit: Int, newest: Bool)
        -> [RoomHistory.Line]
}

/// An entry named in another entry's heads: the writer and the index of its last entry seen.
public struct RoomLedgerHead: Hashable, Sendable {
    public var writer: [UInt8]
    public var index: UInt64

    public init(writer: [UInt8], index: UInt64) {
        self.writer = writer
        self.index = index
    }
}

/// An entry waiting for a head it named: its author, index and clock.
public struct RoomLedgerWaiter: Hashable, Sendable {
    public var author: [UInt8]
    public var index: UInt64
    public var lamport: UInt64

    public init(author: [UInt8], index: UInt64, lamport: UInt64) {
        self.author = author
        self.index = index
        self.lamport = lamport
    }
}

extension RoomEntry.Kind {
    /// Message, action and notice: what CHATHISTORY and join replay show.
    public var isChatLine: Bool { self == .message || self == .action || self == .notice }
}
