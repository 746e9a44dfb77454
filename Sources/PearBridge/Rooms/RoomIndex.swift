import Foundation
import GRDB
import HyperLog
import Synchronization

/// The rooms' history index: tables holding every room's valid entries in the agreed order, with the look-ups
/// CHATHISTORY, join replay and the causality rules need (by position, by writer and index, by msgid, by time). Each
/// room reads and writes it through its `StoredRoomLedger`.
///
/// A gateway keeps these tables in its store's own database (`init(sharing:)`) and writes them in the very
/// transaction that stores the blocks they are derived from (the gateway is the store's `LogCommitCompanion`): an
/// entry is indexed exactly when its block is stored, a crash or a full disk keeps both or neither, and the index
/// is as durable as the logs. What a room has not indexed yet (an index lost with the store, data stored before the
/// room knew its writer, a first start after an upgrade) is read from the logs when the room opens
/// (`Gateway.openRoom`). A file of its own (`init(path:)`) serves tests and measurements.
///
/// Calls are synchronous and made on the gateway's executor (the store's).
public final class RoomIndex: Sendable {
    /// The index's own file, from before it moved into the store's database (removed at start when found).
    public static let fileName = "rooms-index.sqlite"

    let queue: any DatabaseWriter
    /// The first error a batch's statements met (ledger calls do not throw: the batch does, and rolls back).
    private let failure = Mutex<Error?>(nil)

    /// An index in a file of its own at `path` (created if needed): for tests and measurements of the index alone.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrator.migrate(queue)
    }

    /// The index kept in a store's database (its tables are created there on first use), so that it can be written in
    /// the transactions that store the blocks (see `LogCommitCompanion`). The store checks and closes the file.
    public init(sharing storage: LogStorage) throws {
        queue = storage.database
        try Self.migrator.migrate(queue)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("rooms-index-v1") { db in
            // Unsigned 64-bit values (clocks, indices, timestamps: a hostile entry may carry any) are stored with
            // their top bit flipped, which maps unsigned order onto SQLite's signed integers.
            try db.execute(
                sql: """
                    CREATE TABLE room (id INTEGER PRIMARY KEY, topic BLOB NOT NULL UNIQUE);
                    CREATE TABLE writer (
                        room INTEGER NOT NULL REFERENCES room(id) ON DELETE CASCADE,
                        author BLOB NOT NULL,
                        length INTEGER NOT NULL,
                        pending BLOB,
                        PRIMARY KEY (room, author)
                    ) WITHOUT ROWID;
                    CREATE TABLE entry (
                        room INTEGER NOT NULL REFERENCES room(id) ON DELETE CASCADE,
                        lamport INTEGER NOT NULL,
                        author BLOB NOT NULL,
                        idx INTEGER NOT NULL,
                        kind INTEGER NOT NULL,
                        timestamp INTEGER NOT NULL,
                        msgid TEXT,
                        text TEXT NOT NULL,
                        PRIMARY KEY (room, lamport, author, idx)
                    ) WITHOUT ROWID;
                    CREATE UNIQUE INDEX entry_by_writer ON entry (room, author, idx);
                    CREATE INDEX entry_by_time ON entry (room, timestamp);
                    CREATE INDEX entry_by_msgid ON entry (room, msgid) WHERE msgid IS NOT NULL;
                    CREATE INDEX entry_by_kind ON entry (room, kind) WHERE kind >= \(chatKindsBelow);
                    CREATE TABLE awaited (
                        seq INTEGER PRIMARY KEY,
                        room INTEGER NOT NULL REFERENCES room(id) ON DELETE CASCADE,
                        writer BLOB NOT NULL,
                        idx INTEGER NOT NULL,
                        author BLOB NOT NULL,
                        author_idx INTEGER NOT NULL,
                        lamport INTEGER NOT NULL
                    );
                    CREATE INDEX awaited_by_head ON awaited (room, writer, idx);
                    """)
        }
        return migrator
    }

    /// The ledger of a room (its rows are created on first use).
    public func ledger(for topic: RoomTopic) throws -> StoredRoomLedger {
        let id = try queue.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO room (topic) VALUES (?)", arguments: [Data(topic.bytes)])
            return try Int64.fetchOne(db, sql: "SELECT id FROM room WHERE topic = ?", arguments: [Data(topic.bytes)]) ?? 0
        }
        return StoredRoomLedger(index: self, room: id)
    }

    /// Forgets everything indexed for a room (its logs are read again from the start).
    public func reset(_ topic: RoomTopic) throws {
        try queue.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM room WHERE topic = ?", arguments: [Data(topic.bytes)])
            else { return }
            for table in ["entry", "writer", "awaited"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE room = ?", arguments: [id])
            }
        }
    }

    /// Runs `body` (ledger calls) as one transaction: all of it is kept, or, if any statement failed, none of it and
    /// the error is thrown.
    public func batch<T>(_ body: () throws -> T) throws -> T {
        do {
            return try queue.unsafeReentrantWrite { db in
                try db.inPreparedTransaction(immediate: false) { try within(db, body) }
            }
        } catch {
            // What the ledgers cached during the batch may describe rows it did not keep.
            transactionRolledBack()
            throw error
        }
    }

    /// Runs `body` (ledger calls) inside a transaction already open on this index's database (`db`): a batch's own,
    /// or the one storing a log's change. If any statement failed, the error is thrown, and the owner of the
    /// transaction rolls all of it back (and says so: `transactionRolledBack()`).
    public func within<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        failure.withLock { $0 = nil }
        let outer = batchDatabase
        batchDatabase = (db, pthread_self())
        defer { batchDatabase = outer }
        let result = try body()
        if let error = failure.withLock({ $0 }) { throw error }
        return result
    }

    /// A transaction that ran ledger calls (`within`, `batch`) was not kept: what the ledgers cached during it is
    /// forgotten.
    public func transactionRolledBack() {
        rollbacks.add(1, ordering: .relaxed)
    }

    /// How many batches were rolled back (ledgers drop their caches when it changes).
    let rollbacks = Atomic<UInt64>(0)

    /// The connection of the batch under way: its statements use it directly (a batch ingests thousands of entries,
    /// and entering the queue for each statement would cost more than the statement). Only set and read on the
    /// thread running the batch, inside the queue's write.
    nonisolated(unsafe) private var batchDatabase: (Database, pthread_t)?

    /// One statement or query of a ledger, inside the current batch if there is one. An error is kept for the batch
    /// (and answered with `fallback`).
    func run<T>(_ fallback: T, _ body: (Database) throws -> T) -> T {
        do {
            if let (db, thread) = batchDatabase, pthread_equal(thread, pthread_self()) != 0 { return try body(db) }
            return try queue.unsafeReentrantWrite(body)
        } catch {
            failure.withLock { if $0 == nil { $0 = error } }
            return fallback
        }
    }

    /// Chat kinds (message, action, notice: 0, 1, 2) are stored below this; the other kinds (few: nicks, topics,
    /// identities, joins, parts) at or above it, in their own partial index.
    static let chatKindsBelow = stored(3)

    /// Unsigned order as signed order.
    static func stored(_ value: UInt64) -> Int64 { Int64(bitPattern: value ^ (1 << 63)) }
    static func unsigned(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) ^ (1 << 63) }
}
