/// What happened to a log, for whoever follows it (the bridge turning entries into IRC lines, replication sessions
/// announcing new lengths).
public enum LogEvent: Sendable, Equatable {
    /// The local writer appended; the log now has `length` blocks.
    case appended(length: UInt64)
    /// A verified upgrade from a peer moved the signed length to `length`.
    case upgraded(length: UInt64)
    /// Blocks arrived from a peer and verified (one event per stored batch, indices ascending as received).
    case downloaded(indices: [UInt64])
    /// The log was truncated to `length` under fork id `fork`.
    case truncated(length: UInt64, fork: UInt64)
}
