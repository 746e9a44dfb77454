import Foundation
import GRDB

/// Whether the store's SQLite file was closed cleanly by its last user, so that opening it may skip the full structural check.
///
/// Why: `PRAGMA quick_check` reads every page, so a start that runs it grows with the history (about 0.5 s for a
/// store of a million entries). After a clean close (a `<file>-clean` marker left, no write-ahead log, the file as
/// long as its header says) nothing can have been left half-written, and damage at rest is still caught where it
/// matters: SQLite reports malformed pages when they are read, and HyperLog checks every block against its leaf hash.
/// After a crash, or when anything looks off, the full check runs.
enum CleanShutdownMarker {
    static func markerPath(_ database: String) -> String { database + "-clean" }

    /// Takes the marker (the file is in use from now on) before SQLite opens the file, and says whether the file was
    /// closed cleanly: the marker was there, no write-ahead log is left over, and the file is whole.
    static func take(for database: String) -> Bool {
        let marker = markerPath(database)
        let present = FileManager.default.fileExists(atPath: marker)
        if present { unlink(marker) }
        let wal = (try? FileManager.default.attributesOfItem(atPath: database + "-wal")[.size] as? Int) ?? 0
        return present && wal == 0 && fileIsWhole(database)
    }

    /// SQLite's report on a file that failed the full check.
    struct IntegrityCheckFailed: Error, CustomStringConvertible {
        let path: String
        let report: String
        var description: String { "\(path): integrity check failed: \(report)" }
    }

    /// The check at open, run in the just-opened database `path`: nothing when `take` said it was closed cleanly,
    /// else SQLite's full page check (`IntegrityCheckFailed` when it finds damage). Returns whether the full check ran
    /// on a file that held pages already (a file used for the first time is not news).
    static func checkAtOpen(_ db: Database, path: String, closedCleanly: Bool) throws -> Bool {
        if closedCleanly { return false }
        let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let report = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "no answer"
        guard report == "ok" else { throw IntegrityCheckFailed(path: path, report: report) }
        return pages > 0
    }

    /// Leaves the marker after a clean close.
    static func leave(for database: String) {
        let descriptor = open(markerPath(database), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor >= 0 { close(descriptor) }
    }

    /// Whether the file is exactly as long as its header says (a file cut short is not). Read from the file itself,
    /// before SQLite opens it: the header's page size (bytes 16–17) and database size in pages (28–31), which is
    /// valid when its version field (92–95) equals the change counter (24–27), as every commit leaves it.
    static func fileIsWhole(_ database: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: database) else { return false }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 100), header.count == 100,
            let size = try? handle.seekToEnd()
        else { return false }
        let bytes = [UInt8](header)
        func bigEndian(_ range: Range<Int>) -> UInt64 { bytes[range].reduce(0) { $0 << 8 | UInt64($1) } }
        let pageSize = bigEndian(16..<18) == 1 ? 65_536 : bigEndian(16..<18)
        let pages = bigEndian(28..<32)
        return bigEndian(24..<28) == bigEndian(92..<96) && pages > 0 && pages * pageSize == size
    }
}
