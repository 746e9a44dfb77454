import GRDB

extension Database {
    /// Runs `body` in one transaction whose BEGIN and COMMIT are statements prepared once per connection.
    ///
    /// Why not GRDB's `inTransaction`: it runs `BEGIN …` and `COMMIT …` through `execute(sql:)`, which parses them
    /// (and calls GRDB's authorizer) at every transaction; on a gateway that commits each line as it comes, that was a
    /// tenth of the thread's time (docs/benchmarks.md). A failure rolls back everything `body` did and is rethrown.
    public func inPreparedTransaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try cachedStatement(sql: immediate ? "BEGIN IMMEDIATE TRANSACTION" : "BEGIN DEFERRED TRANSACTION").execute()
        let result: T
        do {
            result = try body()
            try cachedStatement(sql: "COMMIT TRANSACTION").execute()
        } catch {
            // A failed COMMIT (a full disk) can leave the transaction open: end it, so nothing half-done is kept.
            if isInsideTransaction { try? cachedStatement(sql: "ROLLBACK TRANSACTION").execute() }
            throw error
        }
        return result
    }
}
