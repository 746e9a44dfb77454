import DequeModule

/// A `RoomLedger` held in memory: the whole history as a sorted array. For tests and rooms that live only as long as
/// the process; a gateway's rooms use `StoredRoomLedger`.
public struct MemoryRoomLedger: RoomLedger {
    public private(set) var history = RoomHistory()
    private var clocks: [[UInt8]: [UInt64: UInt64]] = [:]
    private var claimed: Set<String> = []
    private var waiters: [RoomLedgerHead: [RoomLedgerWaiter]] = [:]
    private var waitOrder: Deque<RoomLedgerHead> = []
    private var writerProgress: [[UInt8]: (length: UInt64, pending: Set<UInt64>)] = [:]
    /// Most heads awaited at once; past it the oldest waits are forgotten (their check is skipped, as for heads that
    /// never arrive).
    let awaitedHeadLimit: Int

    public init(awaitedHeadLimit: Int = StoredRoomLedger.awaitedLimit) {
        self.awaitedHeadLimit = awaitedHeadLimit
    }

    public func lamport(of author: [UInt8], at index: UInt64) -> UInt64? {
        clocks[author]?[index]
    }

    public mutating func insert(_ line: RoomHistory.Line) -> Bool {
        guard history.insert(line) else { return false }
        clocks[line.position.author, default: [:]][line.position.index] = line.position.lamport
        if let id = line.entry.messageID { claimed.insert(id) }
        return true
    }

    public mutating func remove(_ position: RoomHistory.Position) -> RoomHistory.Line? {
        guard let line = history.remove(position) else { return nil }
        clocks[position.author]?[position.index] = nil
        if let id = line.entry.messageID { claimed.remove(id) }
        return line
    }

    public func isClaimed(messageID: String) -> Bool { claimed.contains(messageID) }

    public var maximumLamport: UInt64 { history.maximumLamport }

    public mutating func await(_ head: RoomLedgerHead, by waiter: RoomLedgerWaiter) {
        if waiters[head] == nil {
            waitOrder.append(head)
            if waitOrder.count > awaitedHeadLimit, let oldest = waitOrder.popFirst() { waiters[oldest] = nil }
        }
        waiters[head, default: []].append(waiter)
    }

    public mutating func takeWaiters(of head: RoomLedgerHead) -> [RoomLedgerWaiter] {
        waiters.removeValue(forKey: head) ?? []
    }

    public mutating func setProgress(of author: [UInt8], length: UInt64, pending: Set<UInt64>) {
        writerProgress[author] = (length, pending)
    }

    public func progress() -> [[UInt8]: (length: UInt64, pending: Set<UInt64>)] { writerProgress }

    public func entries(ofKinds kinds: Set<RoomEntry.Kind>) -> [RoomHistory.Line] {
        history.lines.filter { kinds.contains($0.entry.kind) }
    }

    public var earliestTimestamp: UInt64? { history.lines.lazy.map(\.entry.timestamp).min() }

    public var latestChatTimestamp: UInt64? {
        history.lines.lazy.filter(\.entry.kind.isChatLine).map(\.entry.timestamp).max()
    }

    public func chatLine(at position: RoomHistory.Position) -> RoomHistory.Line? {
        history.lines.first { $0.position == position && $0.entry.kind.isChatLine }
    }

    public func chatLine(claiming messageID: String) -> RoomHistory.Line? {
        history.lines.first { $0.entry.messageID == messageID && $0.entry.kind.isChatLine }
    }

    public func firstChatLine(atOrAfter milliseconds: UInt64) -> RoomHistory.Line? {
        var found: RoomHistory.Line?
        for line in history.lines where line.entry.kind.isChatLine && line.entry.timestamp >= milliseconds {
            if found == nil || line.entry.timestamp < found!.entry.timestamp { found = line }
        }
        return found
    }

    public func chatLines(after lower: RoomHistory.Position?, before upper: RoomHistory.Position?, limit: Int, newest: Bool)
        -> [RoomHistory.Line]
    {
        let window = history.lines.filter { line in
            line.entry.kind.isChatLine && lower.map { $0 < line.position } ?? true && upper.map { line.position < $0 } ?? true
        }
        return newest ? Array(window.suffix(max(0, limit))) : Array(window.prefix(max(0, limit)))
    }
}
