import Foundation
import GRDB
import HyperLog
import Synchronization

/// A room's `RoomLedger` in the `RoomIndex`: every answer is an indexed look-up, so what the gateway holds in memory
/// for a room does not depend on how long its history is. Cached, because they are asked for at every line: the
/// highest clock, the number of awaited rows, and each writer's newest entry (bounded by the room's writers).
public final class StoredRoomLedger: RoomLedger {
    /// Most awaited rows a room keeps; past it the oldest head's waits are forgotten (their check is skipped, as for
    /// heads that never arrive).
    public static let awaitedLimit = 65_536

    let index: RoomIndex
    let room: Int64
    private struct Cache {
        var maximumLamport: UInt64?
        var awaitedRows: Int?
        /// Per writer, its newest entry held (highest index, its clock; nil inside: none held), once looked up: what
        /// the heads of new entries almost always name, and the causality check's "is the entry after this one held"
        /// (almost never), so a line costs no query per writer. Bounded by the room's writers.
        var newest: [[UInt8]: (index: UInt64, lamport: UInt64)?] = [:]
        /// The index's rollback count when these were cached: a rolled-back batch may have cached what it undid.
        var rollbacks: UInt64 = 0
    }

    /// The cache, emptied first if a batch was rolled back since it was filled.
    private func withCache<T>(_ body: (inout Cache) -> T) -> T {
        let rollbacks = index.rollbacks.load(ordering: .relaxed)
        return cache.withLock { cache in
            if cache.rollbacks != rollbacks { cache = Cache(rollbacks: rollbacks) }
            return body(&cache)
        }
    }

    private let cache = Mutex(Cache())

    init(index: RoomIndex, room: Int64) {
        self.index = index
        self.room = room
    }

    private static let columns = "lamport, author, idx, kind, timestamp, msgid, text"

    /// Column readers that never trap: a value of the wrong type (a damaged or edited index) reads as nil, and the
    /// row is skipped, where GRDB's typed subscripts would stop the process.
    static func integer(_ row: Row, _ column: String) -> UInt64? {
        Int64.fromDatabaseValue(row[column] as DatabaseValue).map(RoomIndex.unsigned)
    }

    static func bytes(_ row: Row, _ column: String) -> [UInt8]? {
        Data.fromDatabaseValue(row[column] as DatabaseValue).map { [UInt8]($0) }
    }

    private static func line(_ row: Row) -> RoomHistory.Line? {
        guard let kindNumber = integer(row, "kind"), let kind = RoomEntry.Kind(rawValue: kindNumber),
            let author = bytes(row, "author"), let lamport = integer(row, "lamport"), let index = integer(row, "idx"),
            let timestamp = integer(row, "timestamp"), let text = String.fromDatabaseValue(row["text"] as DatabaseValue)
        else { return nil }
        let position = RoomHistory.Position(lamport: lamport, author: author, index: index)
        var entry = RoomEntry(kind: kind, timestamp: timestamp, lamport: lamport, text: text)
        // Not through the initialiser's validation: the id was valid when ingested and may not be changed now.
        entry.messageID = String.fromDatabaseValue(row["msgid"] as DatabaseValue)
        return RoomHistory.Line(position: position, entry: entry)
    }

    /// A position as the `(lamport, author, idx)` arguments of a statement.
    private static func arguments(_ position: RoomHistory.Position) -> StatementArguments {
        [RoomIndex.stored(position.lamport), Data(position.author), RoomIndex.stored(position.index)]
    }

    private func lines(_ sql: String, _ arguments: StatementArguments) -> [RoomHistory.Line] {
        index.run([]) { db in try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).compactMap(Self.line) }
    }

    public func lamport(of author: [UInt8], at position: UInt64) -> UInt64? {
        guard let newest = newestEntry(of: author), position <= newest.index else { return nil }
        if newest.index == position { return newest.lamport }
        return index.run(nil) { db in
            let query = RawStatement(
                statement: try db.cachedStatement(sql: "SELECT lamport FROM entry WHERE room = ? AND author = ? AND idx = ?"))
            query.bind(1, room)
            query.bind(2, author)
            query.bind(3, RoomIndex.stored(position))
            return try query.queryOne { row in
                RawStatement.isInteger(row, 0) ? RoomIndex.unsigned(RawStatement.integer(row, 0)) : nil
            } ?? nil
        }
    }

    /// The writer's newest entry held (highest index, its clock), nil when none is.
    private func newestEntry(of author: [UInt8]) -> (index: UInt64, lamport: UInt64)? {
        if let known = withCache({ $0.newest[author] }) { return known }
        let found = index.run(nil) { db -> (index: UInt64, lamport: UInt64)? in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT idx, lamport FROM entry INDEXED BY entry_by_writer WHERE room = ? AND author = ?
                            ORDER BY idx DESC LIMIT 1
                            """),
                    arguments: [room, Data(author)]),
                let newestIndex = Self.integer(row, "idx"), let lamport = Self.integer(row, "lamport")
            else { return nil }
            return (newestIndex, lamport)
        }
        withCache { $0.newest[author] = .some(found) }
        return found
    }

    public func insert(_ line: RoomHistory.Line) -> Bool {
        let position = line.position
        let inserted = index.run(false) { db in
            // Bound through SQLite's C API: a catch-up inserts tens of thousands of these, and GRDB's
            // `StatementArguments` (boxing every value, copying blobs into `Data`) cost more than the insert itself.
            let insert = RawStatement(
                statement: try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO entry (room, lamport, author, idx, kind, timestamp, msgid, text)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """))
            insert.bind(1, room)
            insert.bind(2, RoomIndex.stored(position.lamport))
            insert.bind(3, position.author)
            insert.bind(4, RoomIndex.stored(position.index))
            insert.bind(5, RoomIndex.stored(line.entry.kind.rawValue))
            insert.bind(6, RoomIndex.stored(line.entry.timestamp))
            insert.bind(7, line.entry.messageID)
            insert.bind(8, line.entry.text)
            try insert.step()
            return db.changesCount > 0
        }
        if inserted {
            withCache { cache in
                if let known = cache.maximumLamport { cache.maximumLamport = max(known, position.lamport) }
                // Kept only once looked up: before that, an older entry with a higher index may be held.
                if case .some(let known) = cache.newest[position.author], position.index >= known?.index ?? 0 {
                    cache.newest[position.author] = .some((position.index, position.lamport))
                }
            }
        }
        return inserted
    }

    public func remove(_ position: RoomHistory.Position) -> RoomHistory.Line? {
        let arguments: StatementArguments = [room] + Self.arguments(position)
        let removed = lines(
            "SELECT \(Self.columns) FROM entry WHERE room = ? AND lamport = ? AND author = ? AND idx = ?", arguments
        ).first
        guard let removed else { return nil }
        index.run(()) { db in
            try db.cachedStatement(sql: "DELETE FROM entry WHERE room = ? AND lamport = ? AND author = ? AND idx = ?")
                .execute(arguments: arguments)
        }
        withCache { cache in
            cache.maximumLamport = nil
            // The newest gone, the next look-up finds the one before it.
            if case .some(let known) = cache.newest[position.author], known?.index == position.index {
                cache.newest[position.author] = nil
            }
        }
        return removed
    }

    public func isClaimed(messageID: String) -> Bool {
        index.run(false) { db in
            let query = RawStatement(
                statement: try db.cachedStatement(
                    sql: "SELECT 1 FROM entry INDEXED BY entry_by_msgid WHERE room = ? AND msgid = ? LIMIT 1"))
            query.bind(1, room)
            query.bind(2, messageID)
            return try query.queryOne { _ in true } ?? false
        }
    }

    public var maximumLamport: UInt64 {
        if let known = withCache({ $0.maximumLamport }) { return known }
        let found = index.run(nil) { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT lamport FROM entry WHERE room = ? ORDER BY lamport DESC LIMIT 1"),
                arguments: [room]
            ).map(RoomIndex.unsigned) ?? 0
        }
        // Not cached after a failed read: asked again next time.
        if let found { withCache { $0.maximumLamport = found } }
        return found ?? 0
    }

    public func await(_ head: RoomLedgerHead, by waiter: RoomLedgerWaiter) {
        index.run(()) { db in
            try db.cachedStatement(
                sql: "INSERT INTO awaited (room, writer, idx, author, author_idx, lamport) VALUES (?, ?, ?, ?, ?, ?)"
            ).execute(arguments: [
                room, Data(head.writer), RoomIndex.stored(head.index), Data(waiter.author),
                RoomIndex.stored(waiter.index), RoomIndex.stored(waiter.lamport),
            ])
            let rows = try awaitedRows(db) + 1
            withCache { $0.awaitedRows = rows }
            guard rows > Self.awaitedLimit,
                let oldest = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT writer, idx FROM awaited WHERE room = ? ORDER BY seq LIMIT 1"),
                    arguments: [room])
            else { return }
            try db.cachedStatement(sql: "DELETE FROM awaited WHERE room = ? AND writer = ? AND idx = ?")
                .execute(arguments: [room, oldest["writer"] as DatabaseValue, oldest["idx"] as DatabaseValue])
            withCache { $0.awaitedRows = nil }
        }
    }

    private func awaitedRows(_ db: Database) throws -> Int {
        if let known = withCache({ $0.awaitedRows }) { return known }
        let rows = try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM awaited WHERE room = ?"), arguments: [room]) ?? 0
        // Kept: asked at every new entry, and counted again only after rows were taken.
        withCache { $0.awaitedRows = rows }
        return rows
    }

    public func takeWaiters(of head: RoomLedgerHead) -> [RoomLedgerWaiter] {
        index.run([]) { db in
            // Asked at every new entry; in a room whose heads have all arrived the table is empty (and the count cached).
            guard try awaitedRows(db) > 0 else { return [] }
            let arguments: StatementArguments = [room, Data(head.writer), RoomIndex.stored(head.index)]
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT author, author_idx, lamport FROM awaited WHERE room = ? AND writer = ? AND idx = ? ORDER BY seq"),
                arguments: arguments)
            guard !rows.isEmpty else { return [] }
            try db.cachedStatement(sql: "DELETE FROM awaited WHERE room = ? AND writer = ? AND idx = ?")
                .execute(arguments: arguments)
            withCache { $0.awaitedRows = nil }
            return rows.compactMap { row in
                guard let author = Self.bytes(row, "author"), let index = Self.integer(row, "author_idx"),
                    let lamport = Self.integer(row, "lamport")
                else { return nil }
                return RoomLedgerWaiter(author: author, index: index, lamport: lamport)
            }
        }
    }

    public func setProgress(of author: [UInt8], length: UInt64, pending: Set<UInt64>) {
        index.run(()) { db in
            let upsert = RawStatement(
                statement: try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO writer (room, author, length, pending) VALUES (?, ?, ?, ?)"))
            upsert.bind(1, room)
            upsert.bind(2, author)
            upsert.bind(3, RoomIndex.stored(length))
            upsert.bind(4, pending.isEmpty ? nil : [UInt8](Self.encode(pending)))
            try upsert.step()
        }
    }

    public func progress() -> [[UInt8]: (length: UInt64, pending: Set<UInt64>)] {
        index.run([:]) { db in
            var found: [[UInt8]: (length: UInt64, pending: Set<UInt64>)] = [:]
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT author, length, pending FROM writer WHERE room = ?"), arguments: [room])
            for row in rows {
                guard let author = Self.bytes(row, "author"), let length = Self.integer(row, "length") else { continue }
                found[author] = (length, Self.decode(Data.fromDatabaseValue(row["pending"] as DatabaseValue)))
            }
            return found
        }
    }

    /// Indices past a gap, as big-endian 8-byte values (rare, and few: a reader's sparse download).
    private static func encode(_ pending: Set<UInt64>) -> Data {
        var data = Data()
        for value in pending.sorted() { withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) } }
        return data
    }

    private static func decode(_ data: Data?) -> Set<UInt64> {
        guard let bytes = data.map([UInt8].init), bytes.count % 8 == 0 else { return [] }
        return Set(stride(from: 0, to: bytes.count, by: 8).map { start in
            bytes[start..<start + 8].reduce(0) { $0 << 8 | UInt64($1) }
        })
    }

    public func entries(ofKinds kinds: Set<RoomEntry.Kind>) -> [RoomHistory.Line] {
        let wanted = kinds.map { RoomIndex.stored($0.rawValue) }
        let named = wanted.map(String.init).joined(separator: ", ")
        // Kinds from 3 up (topic, nick, identity, …) are few and served by the small partial index (named: without
        // statistics SQLite's planner would rather scan the room in key order).
        let partial = kinds.allSatisfy { !$0.isChatLine }
            ? " INDEXED BY entry_by_kind WHERE room = ? AND kind >= \(RoomIndex.chatKindsBelow) AND" : " WHERE room = ? AND"
        return lines(
            "SELECT \(Self.columns) FROM entry\(partial) kind IN (\(named)) ORDER BY lamport, author, idx", [room])
    }

    public var earliestTimestamp: UInt64? {
        index.run(nil) { db in
            try Int64.fetchOne(
                db.cachedStatement(
                    sql: "SELECT timestamp FROM entry INDEXED BY entry_by_time WHERE room = ? ORDER BY timestamp LIMIT 1"),
                arguments: [room]
            ).map(RoomIndex.unsigned)
        }
    }

    private static let chatKindsBelow = RoomIndex.chatKindsBelow

    public var latestChatTimestamp: UInt64? {
        index.run(nil) { db in
            try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT timestamp FROM entry INDEXED BY entry_by_time WHERE room = ? AND kind < ?
                        ORDER BY timestamp DESC LIMIT 1
                        """),
                arguments: [room, Self.chatKindsBelow]
            ).map(RoomIndex.unsigned)
        }
    }

    public func chatLine(at position: RoomHistory.Position) -> RoomHistory.Line? {
        lines(
            "SELECT \(Self.columns) FROM entry WHERE room = ? AND lamport = ? AND author = ? AND idx = ? AND kind < ?",
            [room] + Self.arguments(position) + [Self.chatKindsBelow]
        ).first
    }

    public func chatLine(claiming messageID: String) -> RoomHistory.Line? {
        lines(
            "SELECT \(Self.columns) FROM entry INDEXED BY entry_by_msgid WHERE room = ? AND msgid = ? AND kind < ? LIMIT 1",
            [room, messageID, Self.chatKindsBelow]
        ).first
    }

    public func firstChatLine(atOrAfter milliseconds: UInt64) -> RoomHistory.Line? {
        lines(
            """
            SELECT \(Self.columns) FROM entry INDEXED BY entry_by_time WHERE room = ? AND timestamp >= ? AND kind < ?
            ORDER BY timestamp, lamport, author, idx LIMIT 1
            """,
            [room, RoomIndex.stored(milliseconds), Self.chatKindsBelow]
        ).first
    }

    public func chatLines(after lower: RoomHistory.Position?, before upper: RoomHistory.Position?, limit: Int, newest: Bool)
        -> [RoomHistory.Line]
    {
        guard limit > 0 else { return [] }
        var conditions = ["room = ?", "kind < ?"]
        var arguments: StatementArguments = [room, Self.chatKindsBelow]
        if let lower {
            conditions.append("(lamport, author, idx) > (?, ?, ?)")
            arguments += Self.arguments(lower)
        }
        if let upper {
            conditions.append("(lamport, author, idx) < (?, ?, ?)")
            arguments += Self.arguments(upper)
        }
        let order = newest ? "lamport DESC, author DESC, idx DESC" : "lamport, author, idx"
        arguments += [limit]
        let found = lines(
            "SELECT \(Self.columns) FROM entry WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT ?",
            arguments)
        return newest ? found.reversed() : found
    }
}
