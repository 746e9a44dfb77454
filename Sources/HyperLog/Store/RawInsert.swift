import GRDB
import GRDBSQLite

/// Binds and steps a prepared INSERT through SQLite's C API.
///
/// The append path writes one row per block and one per parent node; going through `StatementArguments` costs
/// more than the insert itself (existential boxing, `Data` copies, per-statement observation hooks), so the hot
/// inserts bind blobs straight from the Swift arrays. Only used inside a GRDB write transaction, on a statement
/// GRDB prepared and caches.
struct RawInsert {
    let statement: Statement

    /// `SQLITE_TRANSIENT`: SQLite copies the blob before the call returns, so the Swift buffer may go away.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ position: Int32, _ value: Int64) {
        sqlite3_bind_int64(statement.sqliteStatement, position, value)
    }

    func bind(_ position: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress {
                sqlite3_bind_blob(statement.sqliteStatement, position, base, Int32(raw.count), Self.transient)
            } else {
                // An empty blob, not NULL: the columns are NOT NULL.
                sqlite3_bind_zeroblob(statement.sqliteStatement, position, 0)
            }
        }
    }

    /// Runs the insert and resets the statement for the next row.
    func step() throws {
        let code = sqlite3_step(statement.sqliteStatement)
        sqlite3_reset(statement.sqliteStatement)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "insert failed")
        }
    }
}
