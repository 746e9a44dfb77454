/// A window of a room's chat lines, as CHATHISTORY (and join replay) asks for them, answered from a `RoomLedger`
/// with a few indexed look-ups rather than by reading the whole history.
///
/// The same rules as the IRC core's in-memory `HistoryWindow`, with one difference for timestamp references: a
/// timestamp names the chat line with the earliest time at or after it (found by the time index), where the in-memory
/// rule takes the first line in history order whose time is at or after it. They agree whenever clocks and history
/// order agree (authors' wall clocks are not trusted to, so neither rule is "right" for a line stamped out of order).
public enum RoomHistoryWindow: Sendable, Hashable {
    /// A point in history: a line's msgid, or a time in milliseconds since the Unix epoch.
    public enum Reference: Sendable, Hashable {
        case messageID(String)
        case time(UInt64)
    }

    case latest(limit: Int)
    case before(Reference, limit: Int)
    case after(Reference, limit: Int)
    case around(Reference, limit: Int)
    case between(Reference, Reference, limit: Int)

    /// Where a reference points: a line (`exact` when it is the line the reference names) or the end of history.
    private enum Anchor {
        case line(RoomHistory.Line, exact: Bool)
        case end

        var position: RoomHistory.Position? {
            if case .line(let line, _) = self { return line.position }
            return nil
        }

        var isExact: Bool {
            if case .line(_, let exact) = self { return exact }
            return false
        }
    }

    /// `messageID(line)` tells the id a line shows under (its own msgid, or the one derived from its position);
    /// `derivedLine` finds a line by a derived id.
    public func select(
        from ledger: any RoomLedger, derivedLine: (String) -> RoomHistory.Line?
    ) -> [RoomHistory.Line] {
        func anchor(_ reference: Reference) -> Anchor? {
            switch reference {
            case .messageID(let id):
                guard let line = ledger.chatLine(claiming: id) ?? derivedLine(id) else { return nil }
                return .line(line, exact: true)
            case .time(let milliseconds):
                guard let line = ledger.firstChatLine(atOrAfter: milliseconds) else { return .end }
                return .line(line, exact: line.entry.timestamp == milliseconds)
            }
        }
        switch self {
        case .latest(let limit):
            return ledger.chatLines(after: nil, before: nil, limit: limit, newest: true)
        case .before(let reference, let limit):
            guard let anchor = anchor(reference) else { return [] }
            return ledger.chatLines(after: nil, before: anchor.position, limit: limit, newest: true)
        case .after(let reference, let limit):
            guard let anchor = anchor(reference), case .line(let line, let exact) = anchor else { return [] }
            return Self.from(line, inclusive: !exact, limit: limit, in: ledger)
        case .around(let reference, let limit):
            guard let anchor = anchor(reference) else { return [] }
            let earlier = ledger.chatLines(after: nil, before: anchor.position, limit: max(0, limit) / 2, newest: true)
            guard case .line(let line, _) = anchor else { return earlier }
            return earlier + Self.from(line, inclusive: true, limit: max(0, limit) - earlier.count, in: ledger)
        case .between(let from, let to, let limit):
            guard let a = anchor(from), let b = anchor(to) else { return [] }
            let forward = !Self.isBefore(b, a)
            let (low, high) = forward ? (a, b) : (b, a)
            guard case .line(let lowLine, let lowExact) = low else { return [] }
            var lines: [RoomHistory.Line] = []
            // The low end is excluded when it is the line a reference names, as the upper end always is.
            let lowIncluded = !(lowExact || (high.isExact && high.position == lowLine.position))
            if lowIncluded, high.position.map({ lowLine.position < $0 }) ?? true { lines.append(lowLine) }
            let rest = ledger.chatLines(
                after: lowLine.position, before: high.position, limit: max(0, limit) + 1, newest: !forward)
            lines += rest
            return forward ? Array(lines.prefix(max(0, limit))) : Array(lines.suffix(max(0, limit)))
        }
    }

    private static func isBefore(_ a: Anchor, _ b: Anchor) -> Bool {
        switch (a.position, b.position) {
        case (let x?, let y?): x < y
        case (_?, nil): true
        default: false
        }
    }

    /// Up to `limit` lines from `line` on (itself included or not), oldest first.
    private static func from(_ line: RoomHistory.Line, inclusive: Bool, limit: Int, in ledger: any RoomLedger) -> [RoomHistory.Line] {
        guard limit > 0 else { return [] }
        let rest = ledger.chatLines(after: line.position, before: nil, limit: inclusive ? limit - 1 : limit, newest: false)
        return inclusive ? [line] + rest : rest
    }
}
