/// The lines of a room from every writer, in the one order all gateways agree on: Lamport clock, then author key
/// (bytewise), then the entry's index in its author's log.
///
/// Lamport clocks make causally later lines sort later (an author's clock exceeds every clock it had seen); key and
/// index break ties identically everywhere, so two gateways that hold the same entries show the same history.
public struct RoomHistory: Sendable {
    /// Where a line lives: its author's log and its index there.
    public struct Position: Hashable, Sendable, Comparable {
        public var lamport: UInt64
        public var author: [UInt8]
        public var index: UInt64

        public init(lamport: UInt64, author: [UInt8], index: UInt64) {
            self.lamport = lamport
            self.author = author
            self.index = index
        }

        public static func < (a: Position, b: Position) -> Bool {
            if a.lamport != b.lamport { return a.lamport < b.lamport }
            if a.author != b.author { return a.author.lexicographicallyPrecedes(b.author) }
            return a.index < b.index
        }
    }

    public struct Line: Hashable, Sendable {
        public var position: Position
        public var entry: RoomEntry

        public init(position: Position, entry: RoomEntry) {
            self.position = position
            self.entry = entry
        }
    }

    /// Kept sorted by position.
    public private(set) var lines: [Line] = []
    private var seen = Set<Position>()

    public init() {}

    /// The highest Lamport clock seen; a new local line gets this + 1.
    public var maximumLamport: UInt64 { lines.last?.position.lamport ?? 0 }

    /// Inserts a line in order; a line already present is ignored. Returns whether it was new.
    @discardableResult
    public mutating func insert(_ line: Line) -> Bool {
        guard seen.insert(line.position).inserted else { return false }
        // Lines mostly arrive in order; search from the end.
        var slot = lines.count
        while slot > 0, line.position < lines[slot - 1].position { slot -= 1 }
        lines.insert(line, at: slot)
        return true
    }

    /// Removes the line at `position`; returns it, or nil when it was not held.
    @discardableResult
    public mutating func remove(_ position: Position) -> Line? {
        guard seen.remove(position) != nil else { return nil }
        let slot = firstIndex(notBefore: position)
        guard slot < lines.count, lines[slot].position == position else { return nil }
        return lines.remove(at: slot)
    }

    /// The last `count` lines.
    public func latest(_ count: Int) -> ArraySlice<Line> {
        lines.suffix(max(0, count))
    }

    /// Up to `count` lines strictly before `position`, oldest first.
    public func before(_ position: Position, count: Int) -> ArraySlice<Line> {
        let end = firstIndex(notBefore: position)
        return lines[max(0, end - max(0, count))..<end]
    }

    /// Up to `count` lines strictly after `position`, oldest first.
    public func after(_ position: Position, count: Int) -> ArraySlice<Line> {
        var start = firstIndex(notBefore: position)
        if start < lines.count, lines[start].position == position { start += 1 }
        return lines[start..<min(lines.count, start + max(0, count))]
    }

    /// Binary search: the index of the first line whose position is not below `position`.
    private func firstIndex(notBefore position: Position) -> Int {
        var low = 0, high = lines.count
        while low < high {
            let middle = (low + high) / 2
            if lines[middle].position < position { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
