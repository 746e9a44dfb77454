import Foundation
import Synchronization
import Sodium

/// How long a writable log is known to be, kept outside the database: if the database is lost or an old copy is
/// put back while the keys stay, the log opens shorter than this, and appending to it would sign a fork of what
/// peers already hold. The log then refuses appends until peers have given the missing entries back
/// (`SignedLog.isBehind`).
///
/// One file per writable log, overwritten in place after each append: the length (8 bytes, little-endian) and a
/// check (the first 8 bytes of BLAKE2b-256 over a domain tag, the log's discovery key and the length), so that a
/// damaged or foreign file reads as "unknown" (and is reported) rather than as a huge length that would refuse the
/// log for good. It is not synced: a power cut may leave it a few appends behind the database, which only narrows
/// what it detects (peers' longer copies are still noticed, see `ReplicationSession`); a process crash loses nothing
/// (the page cache survives it).
final class ExpectedLengthFile: Sendable {
    let path: String
    private let descriptor: Int32
    /// Whether the file was cut to one record since it was opened (once is enough: only this object writes it).
    private let truncated = Atomic(false)
    private let discoveryKey: [UInt8]

    /// What the file says.
    enum Reading: Equatable {
        /// Nothing recorded yet (a new log, or a store from before these files).
        case none
        case length(UInt64)
        /// Not a record this version wrote for this log: ignored, and the log opens as if nothing were recorded.
        case unreadable
    }

    static let recordSize = 16
    private static let domain = Array("pearirc/expected-length/v1".utf8)

    /// Opens (creating) the file for the log with this discovery key in `directory`.
    init(directory: URL, discoveryKey: [UInt8]) throws {
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.discoveryKey = discoveryKey
        path = directory.appendingPathComponent(discoveryKey.map { String(format: "%02x", $0) }.joined()).path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw HyperLogError.corruptStorage("cannot open \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    private func check(_ lengthBytes: [UInt8]) -> [UInt8] {
        Array(BLAKE2b.hash256(parts: [Self.domain, discoveryKey, lengthBytes]).prefix(8))
    }

    func read() -> Reading {
        var bytes = [UInt8](repeating: 0, count: Self.recordSize + 1)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, Self.recordSize + 1, 0) }
        if count == 0 { return .none }
        guard count == Self.recordSize else { return .unreadable }
        let lengthBytes = Array(bytes[0..<8])
        guard Array(bytes[8..<16]) == check(lengthBytes) else { return .unreadable }
        return .length(lengthBytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    }

    /// Records `length` (best effort: a failure to record only narrows detection; the append itself is durable).
    func record(_ length: UInt64) {
        let lengthBytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        let record = lengthBytes + check(lengthBytes)
        _ = record.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, Self.recordSize, 0) }
        // A longer file from elsewhere would not read back as this record; after the first cut, every write is the
        // same 16 bytes in place, so one truncation per open is enough (a commit then costs one small write here).
        if !truncated.exchange(true, ordering: .relaxed) { _ = ftruncate(descriptor, off_t(Self.recordSize)) }
    }
}
