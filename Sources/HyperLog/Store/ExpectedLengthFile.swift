import Foundation

/// How long a writable log is known to be, kept outside the database: if the database is lost or an old copy is
/// put back while the keys stay, the log opens shorter than this, and appending to it would sign a fork of what
/// peers already hold. The log then refuses appends until peers have given the missing entries back
/// (`SignedLog.isBehind`).
///
/// One file per writable log (8 bytes, little-endian), overwritten in place after each append. It is not synced: a
/// power cut may leave it a few appends behind the database, which only narrows what it detects (peers' longer
/// copies are still noticed, see `ReplicationSession`); a process crash loses nothing (the page cache survives it).
final class ExpectedLengthFile: Sendable {
    let path: String
    private let descriptor: Int32

    /// Opens (creating) the file for the log with this discovery key in `directory`.
    init(directory: URL, discoveryKey: [UInt8]) throws {
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        path = directory.appendingPathComponent(discoveryKey.map { String(format: "%02x", $0) }.joined()).path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw HyperLogError.corruptStorage("cannot open \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// The recorded length; 0 when nothing was recorded (a new log, or a store from before these files).
    func read() -> UInt64 {
        var bytes = [UInt8](repeating: 0, count: 8)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 8, 0) }
        guard count == 8 else { return 0 }
        return bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// Records `length` (best effort: a failure to record only narrows detection; the append itself is durable).
    func record(_ length: UInt64) {
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, 8, 0) }
    }
}
