/// Everything HyperLog can refuse. Bad data from peers or disk is reported with one of these, never a trap.
public enum HyperLogError: Error, Equatable, Sendable {
    /// A node the operation needs is not known locally.
    case missingNode(index: UInt64)
    /// A block index at or past the log's length, or one this replica does not have yet.
    case blockNotAvailable(index: UInt64)
    /// A proof's hashes do not lead to the signed roots.
    case invalidProof(String)
    /// A proof that was valid when requested but no longer applies (the log moved on meanwhile).
    case outdated(String)
    /// A signature does not verify for the manifest's signer.
    case invalidSignature
    /// The log is a read-only replica (no secret key).
    case notWritable
    /// The request itself makes no sense (a range past the end, a truncation beyond the length, …).
    case invalidRequest(String)
    /// Stored data failed its checks when it was read back.
    case corruptStorage(String)
    /// A wire or storage record could not be decoded.
    case malformed(String)
    /// A writable log holds fewer blocks than it is known to have (`SignedLog.isBehind`): appending would fork it.
    case behind(have: UInt64, expected: UInt64)
}
