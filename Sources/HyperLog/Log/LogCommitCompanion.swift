import GRDB

/// Work that must be kept or lost together with a change to a log: an index derived from its blocks, kept in the same
/// database, say. A store's companion (`LogStore.setCommitCompanion`) is called inside the transaction that stores
/// each append or verified download, after the log's own rows; if it throws, the whole change is undone, so what it
/// derives can never be ahead of the blocks, nor behind them.
///
/// Calls are synchronous and come on the store's executor (where its logs run), from inside a log's method: a
/// companion must not call back into that log. Truncations do not call it.
public protocol LogCommitCompanion: AnyObject, Sendable {
    /// Inside the transaction storing a change that added blocks to a log; `change` reads the blocks as they are
    /// once committed. Throwing rolls the whole change back (the append or download fails with that error).
    func logWillCommit(_ change: LogChangeInTransaction) throws
    /// After that transaction, whether it was kept (false: nothing of it, the companion's writes included, is stored).
    func logDidEnd(key: [UInt8], committed: Bool)
}

/// A log's change while its transaction is open: what a `LogCommitCompanion` sees. Valid only during the call.
public struct LogChangeInTransaction {
    /// The log's key.
    public let key: [UInt8]
    /// Blocks 0 ..< this are stored once the transaction commits.
    public let contiguousLength: UInt64
    /// The connection with the transaction open, for the companion's own statements.
    public let database: Database
    let core: Int64
    /// The blocks this change adds, by index (read from here rather than back from the database).
    let arrived: [UInt64: [UInt8]]

    /// The contiguous blocks from `start` on (at most `limit`), as they will be stored.
    public func blocks(from start: UInt64, limit: Int = 4096) throws -> [[UInt8]] {
        guard start < contiguousLength, limit > 0 else { return [] }
        let end = min(contiguousLength, start + UInt64(limit))
        return try StorageSnapshot(db: database).blocks(core: core, in: start..<end, arrived: arrived)
    }
}
