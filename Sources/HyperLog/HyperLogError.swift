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

extension HyperLogError: CustomStringConvertible {
    /// In words for a person reading a log line or a start-up error.
    public var description: String {
        switch self {
        case .missingNode(let index): "a tree node the operation needs is not held (node \(index))"
        case .blockNotAvailable(let index): "block \(index) is not held"
        case .invalidProof(let why): "invalid proof: \(why)"
        case .outdated(let why): "outdated proof: \(why)"
        case .invalidSignature: "a signature does not verify"
        case .notWritable: "the log is read-only here (a replica)"
        case .invalidRequest(let why): "invalid request: \(why)"
        case .corruptStorage(let why): "the store is damaged: \(why)"
        case .malformed(let why): "malformed data: \(why)"
        case .behind(let have, let expected): "the log holds \(have) of its \(expected) entries; appending would fork it"
        }
    }
}
