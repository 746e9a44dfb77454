import GRDB

/// Why the store could not write, in terms a user can act on: a full disk or a read-only store is something to fix
/// and then carry on; nothing of the failed write remains (each write is one transaction).
public enum StorageWriteFailure: Error, Equatable, Sendable, CustomStringConvertible {
    case diskFull
    case readOnly
    case ioError(String)
    case other(String)

    init(_ error: DatabaseError) {
        switch error.resultCode {
        case .SQLITE_FULL: self = .diskFull
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN: self = .readOnly
        case .SQLITE_IOERR: self = .ioError(error.message ?? "\(error.extendedResultCode)")
        default: self = .other("\(error)")
        }
    }

    public var description: String {
        switch self {
        case .diskFull: "the disk is full"
        case .readOnly: "the store cannot be written (read-only)"
        case .ioError(let detail): "a disk error (\(detail))"
        case .other(let detail): "the store failed (\(detail))"
        }
    }
}

extension DatabaseWriter {
    /// `write` (one transaction, see `Database.inPreparedTransaction`), with the database's errors told as
    /// `StorageWriteFailure`.
    func writeReportingFailure<T>(_ updates: (Database) throws -> T) throws -> T {
        do {
            return try writeWithoutTransaction { db in try db.inPreparedTransaction { try updates(db) } }
        } catch let error as DatabaseError {
            throw StorageWriteFailure(error)
        }
    }
}
