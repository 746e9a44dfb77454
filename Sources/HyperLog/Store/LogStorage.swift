import Foundation
import GRDB
import GRDBSQLite

/// Durable storage for every log of a store: one SQLite database (WAL mode, `synchronous = FULL`).
///
/// Each append, upgrade or truncation is one transaction, so a crash at any instant leaves either the state before
/// or the state after, never a torn log; with `synchronous = FULL` a transaction that returned is on disk.
/// Unsigned 64-bit quantities are stored as SQLite integers; every value a real log reaches is below 2^63.
///
/// Every call is synchronous and may wait for the disk: `SignedLog` and `LogStore` make them on their storage thread
/// (`StorageExecutor`), never on Swift's shared pool.
public final class LogStorage: Sendable {
    /// A core's stored header.
    public struct CoreRecord: Sendable, Equatable {
        public var id: Int64
        public var key: [UInt8]
        public var discoveryKey: [UInt8]
        public var manifest: [UInt8]?
        /// For writable cores: the derivation namespace and name of the key pair (secret keys are never stored).
        public var namespace: [UInt8]?
        public var name: String?
        public var length: UInt64
        public var byteLength: UInt64
        public var fork: UInt64
        /// Encoded `MultiSignature` over the tree at (`length`, `fork`); nil for an empty core.
        public var signature: [UInt8]?
        /// Blocks 0 ..< this are all stored, as recorded with the last write; nil for a store written before it was
        /// recorded (then found by reading the block index once).
        public var contiguousLength: UInt64?
    }

    let pool: DatabasePool

    /// The database, for data that must share its transactions (see `LogCommitCompanion`): the rooms' history index
    /// keeps its tables here. Its calls are synchronous, on the store's executor.
    public var database: any DatabaseWriter { pool }

    /// Opens (creating if needed) the database at `path`. A file that is not a valid store gives
    /// `HyperLogError.corruptStorage` rather than a crash.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        self.path = path
        let closedCleanly = CleanShutdownMarker.take(for: path)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            fullyCheckedAtOpen = try pool.writeReportingFailure { db in
                try CleanShutdownMarker.checkAtOpen(db, path: path, closedCleanly: closedCleanly)
            }
            try Self.migrator.migrate(pool)
        } catch let error as HyperLogError {
            throw error
        } catch let error as CleanShutdownMarker.IntegrityCheckFailed {
            throw HyperLogError.corruptStorage("\(error)")
        } catch let error as DatabaseError {
            throw HyperLogError.corruptStorage("\(path): \(error.message ?? error.description)")
        }
        // The store holds signed user data; keep it private like the keys.
        chmod(path, 0o600)
    }

    /// Checkpoints the write-ahead log into the database file and closes every connection, so a clean shutdown
    /// leaves one consistent file. Nothing may use the storage afterwards (calls fail with a database error).
    public func close() throws {
        try? checkpoint()
        try pool.close()
        CleanShutdownMarker.leave(for: path)
    }

    let path: String
    /// Whether opening read every page (the file was not closed cleanly last time: a crash, or a first use).
    public let fullyCheckedAtOpen: Bool

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE core (
                        id INTEGER PRIMARY KEY,
                        key BLOB NOT NULL UNIQUE CHECK (length(key) = 32),
                        discovery_key BLOB NOT NULL UNIQUE CHECK (length(discovery_key) = 32),
                        manifest BLOB,
                        namespace BLOB,
                        name TEXT,
                        length INTEGER NOT NULL DEFAULT 0 CHECK (length >= 0),
                        byte_length INTEGER NOT NULL DEFAULT 0 CHECK (byte_length >= 0),
                        fork INTEGER NOT NULL DEFAULT 0 CHECK (fork >= 0),
                        signature BLOB
                    );
                    CREATE TABLE node (
                        core INTEGER NOT NULL REFERENCES core(id) ON DELETE CASCADE,
                        idx INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        hash BLOB NOT NULL,
                        PRIMARY KEY (core, idx)
                    ) WITHOUT ROWID;
                    CREATE TABLE block (
                        core INTEGER NOT NULL REFERENCES core(id) ON DELETE CASCADE,
                        idx INTEGER NOT NULL,
                        data BLOB NOT NULL,
                        hash BLOB NOT NULL,
                        PRIMARY KEY (core, idx)
                    ) WITHOUT ROWID;
                    """)
        }
        // Kept with each write so that opening a log does not read every block to find its contiguous length (a
        // start would otherwise grow with the history).
        migrator.registerMigration("v2-contiguous-length") { db in
            try db.execute(sql: "ALTER TABLE core ADD COLUMN contiguous_length INTEGER")
        }
        return migrator
    }

    // MARK: - Cores

    public func createCore(
        key: [UInt8], discoveryKey: [UInt8], manifest: [UInt8]?, namespace: [UInt8]?, name: String?
    ) throws -> CoreRecord {
        try pool.writeReportingFailure { db in
            try db.execute(
                sql: "INSERT INTO core (key, discovery_key, manifest, namespace, name) VALUES (?, ?, ?, ?, ?)",
                arguments: [Data(key), Data(discoveryKey), manifest.map { Data($0) }, namespace.map { Data($0) }, name])
            return CoreRecord(
                id: db.lastInsertedRowID, key: key, discoveryKey: discoveryKey, manifest: manifest,
                namespace: namespace, name: name, length: 0, byteLength: 0, fork: 0, signature: nil, contiguousLength: 0)
        }
    }

    public func core(key: [UInt8]) throws -> CoreRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM core WHERE key = ?", arguments: [Data(key)]).map(Self.record)
        }
    }

    public func core(discoveryKey: [UInt8]) throws -> CoreRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM core WHERE discovery_key = ?", arguments: [Data(discoveryKey)])
                .map(Self.record)
        }
    }

    public func allCores() throws -> [CoreRecord] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM core ORDER BY id").map(Self.record) }
    }

    public func setManifest(core: Int64, manifest: [UInt8]) throws {
        try pool.writeReportingFailure { db in
            try db.execute(sql: "UPDATE core SET manifest = ? WHERE id = ?", arguments: [Data(manifest), core])
        }
    }

    /// A core's row, read without trapping: a value of the wrong type (an edited or damaged store) is
    /// `HyperLogError.corruptStorage`, where GRDB's typed subscripts would stop the process.
    static func record(_ row: Row) throws -> CoreRecord {
        func value<T: DatabaseValueConvertible>(_ column: String, _: T.Type) throws -> T? {
            let stored: DatabaseValue = row[column]
            if stored.isNull { return nil }
            guard let decoded = T.fromDatabaseValue(stored) else {
                throw HyperLogError.corruptStorage("core column \(column) holds a value of the wrong type")
            }
            return decoded
        }
        func required<T: DatabaseValueConvertible>(_ column: String, _ type: T.Type) throws -> T {
            guard let found = try value(column, type) else { throw HyperLogError.corruptStorage("core column \(column) is empty") }
            return found
        }
        func unsigned(_ column: String) throws -> UInt64 {
            let number = try required(column, Int64.self)
            guard number >= 0 else { throw HyperLogError.corruptStorage("negative \(column)") }
            return UInt64(number)
        }
        return CoreRecord(
            id: try required("id", Int64.self), key: Array(try required("key", Data.self)),
            discoveryKey: Array(try required("discovery_key", Data.self)),
            manifest: try value("manifest", Data.self).map { Array($0) },
            namespace: try value("namespace", Data.self).map { Array($0) }, name: try value("name", String.self),
            length: try unsigned("length"), byteLength: try unsigned("byte_length"), fork: try unsigned("fork"),
            signature: try value("signature", Data.self).map { Array($0) },
            contiguousLength: try value("contiguous_length", Int64.self).map { UInt64(max(0, $0)) })
    }

    // MARK: - Appends and reads

    /// Stores blocks (by index), nodes and the new signed head in one transaction, with whatever `alongside` writes
    /// (if it throws, nothing is stored).
    ///
    /// A block's leaf node lives in the block's own row (its hash beside the data, its size the data's length), so
    /// an append writes one row per block plus one per parent; leaf nodes without their block (learned from
    /// proofs) go to the node table.
    public func commit(
        core: Int64, blocks: [(index: UInt64, data: [UInt8])], nodes: [TreeNode],
        length: UInt64, byteLength: UInt64, fork: UInt64, signature: [UInt8]?, manifest: [UInt8]? = nil,
        contiguousLength: UInt64? = nil, alongside: ((Database) throws -> Void)? = nil
    ) throws {
        let leafHashes = Dictionary(
            nodes.lazy.filter { $0.index & 1 == 0 }.map { ($0.index / 2, $0.hash) }, uniquingKeysWith: { $1 })
        let storedWithBlock = Set(blocks.map(\.index))
        try pool.writeReportingFailure { db in
            if let manifest {
                try db.execute(sql: "UPDATE core SET manifest = ? WHERE id = ?", arguments: [Data(manifest), core])
            }
            let insertBlock = RawStatement(
                statement: try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO block (core, idx, data, hash) VALUES (?, ?, ?, ?)"))
            for block in blocks {
                insertBlock.bind(1, core)
                insertBlock.bind(2, Int64(block.index))
                insertBlock.bind(3, block.data)
                insertBlock.bind(4, leafHashes[block.index] ?? MerkleHash.leaf(block.data))
                try insertBlock.step()
            }
            let insertNode = RawStatement(
                statement: try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO node (core, idx, size, hash) VALUES (?, ?, ?, ?)"))
            for node in nodes where node.index & 1 == 1 || !storedWithBlock.contains(node.index / 2) {
                insertNode.bind(1, core)
                insertNode.bind(2, Int64(node.index))
                insertNode.bind(3, Int64(node.size))
                insertNode.bind(4, node.hash)
                try insertNode.step()
            }
            // Prepared once per connection: preparing it each time (SQL parsing and GRDB's authorizer callbacks) cost
            // more than the rest of a one-line commit.
            let updateHead = RawStatement(
                statement: try db.cachedStatement(
                    sql: """
                        UPDATE core SET length = ?, byte_length = ?, fork = ?, signature = ?,
                            contiguous_length = coalesce(?, contiguous_length) WHERE id = ?
                        """))
            updateHead.bind(1, Int64(length))
            updateHead.bind(2, Int64(byteLength))
            updateHead.bind(3, Int64(fork))
            updateHead.bind(4, signature)
            updateHead.bind(5, contiguousLength.map(Int64.init))
            updateHead.bind(6, core)
            try updateHead.step()
            try alongside?(db)
        }
    }

    public func block(core: Int64, index: UInt64) throws -> [UInt8]? {
        try read { try $0.block(core: core, index: index) }
    }

    /// Runs `body` with many look-ups (proof building and verification make several per message).
    ///
    /// On the writer's connection, outside a transaction: every call into a store runs on its one executor, so no
    /// write can come between two look-ups of one `read`, and a reader connection would only add the cost of taking
    /// it from GRDB's pool and of a BEGIN and a COMMIT, which measured more than the look-ups themselves.
    public func read<T>(_ body: (StorageSnapshot) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in try body(StorageSnapshot(db: db)) }
    }

    /// The number of blocks stored without a gap from block 0.
    public func contiguousLength(core: Int64) throws -> UInt64 {
        try pool.read { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM block WHERE core = ? AND idx = 0", arguments: [core]) == true
            else { return 0 }
            let firstGap = try Int64.fetchOne(
                db,
                sql: """
                    SELECT MIN(b.idx) + 1 FROM block b
                    WHERE b.core = ? AND NOT EXISTS (SELECT 1 FROM block c WHERE c.core = b.core AND c.idx = b.idx + 1)
                    """, arguments: [core]) ?? 0
            return UInt64(max(firstGap, 0))
        }
    }

    public func hasBlock(core: Int64, index: UInt64) throws -> Bool {
        try read { try $0.hasBlock(core: core, index: index) }
    }

    public func node(core: Int64, index: UInt64) throws -> TreeNode? {
        try read { try $0.node(core: core, index: index) }
    }

    public func nodes(core: Int64, indices: [UInt64]) throws -> [UInt64: TreeNode] {
        try read { snapshot in
            var found: [UInt64: TreeNode] = [:]
            for index in indices { found[index] = try snapshot.node(core: core, index: index) }
            return found
        }
    }

    /// A node from a row whose first three columns are index, size and hash (by position: name look-ups are a
    /// measurable cost on the replication path).
    static func node(_ row: Row) throws -> TreeNode {
        let index: Int64 = row[0], size: Int64 = row[1], hash: Data = row[2]
        guard index >= 0, size >= 0, hash.count == 32 else { throw HyperLogError.corruptStorage("bad node row") }
        return TreeNode(index: UInt64(index), size: UInt64(size), hash: Array(hash))
    }

    /// Removes blocks at and after `length` and every node covering them, and stores the new head.
    public func truncate(
        core: Int64, length: UInt64, byteLength: UInt64, fork: UInt64, signature: [UInt8]?, keptNodes: [TreeNode]
    ) throws {
        try pool.writeReportingFailure { db in
            try db.execute(sql: "DELETE FROM block WHERE core = ? AND idx >= ?", arguments: [core, Int64(length)])
            // A node covers blocks past the end exactly when its right span is at or past leaf index 2·length;
            // deleting everything from the first such node and re-inserting the survivors is simplest and exact.
            try db.execute(sql: "DELETE FROM node WHERE core = ?", arguments: [core])
            let insertNode = try db.cachedStatement(
                sql: "INSERT INTO node (core, idx, size, hash) VALUES (?, ?, ?, ?)")
            // Leaves of blocks that remain live in their block rows.
            for node in keptNodes where node.index & 1 == 1 || node.index / 2 >= length {
                try insertNode.execute(arguments: [core, Int64(node.index), Int64(node.size), Data(node.hash)])
            }
            try db.execute(
                sql: """
                    UPDATE core SET length = ?, byte_length = ?, fork = ?, signature = ?,
                        contiguous_length = min(coalesce(contiguous_length, ?), ?) WHERE id = ?
                    """,
                arguments: [
                    Int64(length), Int64(byteLength), Int64(fork), signature.map { Data($0) }, Int64(length), Int64(length),
                    core,
                ])
        }
    }

    /// All stored nodes of a core, leaves kept in block rows included (used at truncation).
    public func allNodes(core: Int64) throws -> [UInt64: TreeNode] {
        try pool.read { db in
            var all: [UInt64: TreeNode] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT idx * 2 AS idx, length(data) AS size, hash FROM block WHERE core = ?", arguments: [core])
            {
                let node = try Self.node(row)
                all[node.index] = node
            }
            for row in try Row.fetchAll(db, sql: "SELECT idx, size, hash FROM node WHERE core = ?", arguments: [core]) {
                let node = try Self.node(row)
                all[node.index] = node
            }
            return all
        }
    }

    /// Bytes the database files occupy on disk (main file and WAL).
    public func diskUsage() throws -> Int64 {
        let path = pool.path
        var total: Int64 = 0
        for suffix in ["", "-wal", "-shm"] {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path + suffix),
                let size = attributes[.size] as? NSNumber
            {
                total += size.int64Value
            }
        }
        return total
    }

    /// Folds the WAL into the main database file.
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }
}

/// Look-ups inside one read transaction (see `LogStorage.read`). Valid only inside the closure it was given to.
/// Proof building and verification call these several times per message, so they bind and read through
/// SQLite's C API rather than GRDB rows.
public struct StorageSnapshot {
    let db: Database

    /// A stored block, checked against the leaf hash stored with it: bytes changed on disk (damage, or an edit) are
    /// a clear error here, never data served or shown as if the signed tree covered it.
    public func block(core: Int64, index: UInt64) throws -> [UInt8]? {
        let query = RawStatement(statement: try db.cachedStatement(sql: "SELECT data, hash FROM block WHERE core = ? AND idx = ?"))
        query.bind(1, core)
        query.bind(2, Int64(index))
        guard let (data, hash) = try query.queryOne({ (RawStatement.blob($0, 0), RawStatement.blob($0, 1)) }) else { return nil }
        guard MerkleHash.leaf(data) == hash else {
            throw HyperLogError.corruptStorage(
                "block \(index) of log #\(core) does not match its stored hash: the store file was damaged or edited")
        }
        return data
    }

    /// The blocks of `range`, in order, taking those in `arrived` from there (a change whose rows are written but not
    /// yet committed hands its blocks in, rather than have them read back); a block not stored is `blockNotAvailable`.
    public func blocks(core: Int64, in range: Range<UInt64>, arrived: [UInt64: [UInt8]] = [:]) throws -> [[UInt8]] {
        var blocks: [[UInt8]] = []
        blocks.reserveCapacity(range.count)
        for index in range {
            guard let block = try arrived[index] ?? block(core: core, index: index) else {
                throw HyperLogError.blockNotAvailable(index: index)
            }
            blocks.append(block)
        }
        return blocks
    }

    public func hasBlock(core: Int64, index: UInt64) throws -> Bool {
        let query = RawStatement(statement: try db.cachedStatement(sql: "SELECT 1 FROM block WHERE core = ? AND idx = ?"))
        query.bind(1, core)
        query.bind(2, Int64(index))
        return try query.queryOne { _ in true } ?? false
    }

    /// A stored node; leaves whose block is stored come from the block row.
    public func node(core: Int64, index: UInt64) throws -> TreeNode? {
        let query = RawStatement(statement: try db.cachedStatement(sql: "SELECT size, hash FROM node WHERE core = ? AND idx = ?"))
        query.bind(1, core)
        query.bind(2, Int64(index))
        if let found = try query.queryOne({ row in (sqlite3_column_int64(row, 0), RawStatement.blob(row, 1)) }) {
            return try Self.node(index: index, size: found.0, hash: found.1)
        }
        guard index & 1 == 0 else { return nil }
        let leaf = RawStatement(
            statement: try db.cachedStatement(sql: "SELECT length(data), hash FROM block WHERE core = ? AND idx = ?"))
        leaf.bind(1, core)
        leaf.bind(2, Int64(index / 2))
        guard let found = try leaf.queryOne({ row in (sqlite3_column_int64(row, 0), RawStatement.blob(row, 1)) }) else {
            return nil
        }
        return try Self.node(index: index, size: found.0, hash: found.1)
    }

    static func node(index: UInt64, size: Int64, hash: [UInt8]) throws -> TreeNode {
        guard size >= 0, hash.count == 32 else { throw HyperLogError.corruptStorage("bad node \(index)") }
        return TreeNode(index: index, size: UInt64(size), hash: hash)
    }
}
