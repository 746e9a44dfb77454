import GRDB
import GRDBSQLite

/// Binds and steps a prepared statement through SQLite's C API.
///
/// The append path writes one row per block and one per parent node; going through `StatementArguments` costs
/// more than the insert itself (existential boxing, `Data` copies, per-statement observation hooks), so the hot
/// inserts bind blobs straight from the Swift arrays. Only used inside a GRDB write transaction, on a statement
/// GRDB prepared and caches. Public for the rooms' history index, whose inserts are as hot.
public struct RawStatement {
    let statement: Statement

    public init(statement: Statement) {
        self.statement = statement
    }

    /// `SQLITE_TRANSIENT`: SQLite copies the blob before the call returns, so the Swift buffer may go away.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    public func bind(_ position: Int32, _ value: Int64) {
        sqlite3_bind_int64(statement.sqliteStatement, position, value)
    }

    public func bind(_ position: Int32, _ value: Int64?) {
        if let value { bind(position, value) } else { sqlite3_bind_null(statement.sqliteStatement, position) }
    }

    public func bind(_ position: Int32, _ bytes: [UInt8]?) {
        if let bytes { bind(position, bytes) } else { sqlite3_bind_null(statement.sqliteStatement, position) }
    }

    public func bind(_ position: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress {
                sqlite3_bind_blob(statement.sqliteStatement, position, base, Int32(raw.count), Self.transient)
            } else {
                // An empty blob, not NULL: the columns are NOT NULL.
                sqlite3_bind_zeroblob(statement.sqliteStatement, position, 0)
            }
        }
    }

    public func bind(_ position: Int32, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(statement.sqliteStatement, position)
            return
        }
        text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { chars in
                if let base = chars.baseAddress {
                    sqlite3_bind_text(statement.sqliteStatement, position, base, Int32(chars.count), Self.transient)
                } else {
                    // An empty text, not NULL.
                    sqlite3_bind_text(statement.sqliteStatement, position, "", 0, Self.transient)
                }
            }
        }
    }

    /// An integer column (0 for NULL), for `queryOne`'s reader.
    public static func integer(_ row: OpaquePointer, _ column: Int32) -> Int64 {
        sqlite3_column_int64(row, column)
    }

    /// Whether a column is of SQLite's integer type (a damaged or edited file may hold anything).
    public static func isInteger(_ row: OpaquePointer, _ column: Int32) -> Bool {
        sqlite3_column_type(row, column) == SQLITE_INTEGER
    }

    /// Steps a SELECT once and reads the first row with `read`, or returns nil when there is none. The statement is
    /// reset afterwards, so the blobs `read` sees must be copied out inside it.
    public func queryOne<T>(_ read: (OpaquePointer) throws -> T) throws -> T? {
        defer { sqlite3_reset(statement.sqliteStatement) }
        switch sqlite3_step(statement.sqliteStatement) {
        case SQLITE_ROW: return try read(statement.sqliteStatement)
        case SQLITE_DONE: return nil
        case let code: throw failure(code, "query failed")
        }
    }

    /// A blob column copied into an array (an empty blob reads as empty, not nil).
    public static func blob(_ row: OpaquePointer, _ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(row, column))
        guard count > 0, let base = sqlite3_column_blob(row, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Runs the insert and resets the statement for the next row.
    public func step() throws {
        let code = sqlite3_step(statement.sqliteStatement)
        sqlite3_reset(statement.sqliteStatement)
        guard code == SQLITE_DONE else {
            throw failure(code, "insert failed")
        }
    }

    /// SQLite's own words for a failed step (a trigger's message, "database or disk is full"), as GRDB reports them.
    private func failure(_ code: Int32, _ what: String) -> DatabaseError {
        let words = sqlite3_db_handle(statement.sqliteStatement).flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: words.map { "\(what): \($0)" } ?? what)
    }
}
