import Foundation

/// Writes secret material so that it is never readable by others, not even for an instant: the file is created
/// with mode 0600 under a temporary name, synced, then renamed into place.
public enum SecretFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let errno: Int32
        public var description: String { "could not write \(path): \(String(cString: strerror(errno)))" }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw WriteError(path: temporary, errno: errno) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Foundation.write(fd, raw.baseAddress.map { $0 + written }, raw.count - written)
            }
            if result < 0 {
                let code = errno
                close(fd)
                unlink(temporary)
                throw WriteError(path: temporary, errno: code)
            }
            written += result
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            unlink(temporary)
            throw WriteError(path: temporary, errno: code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw WriteError(path: path, errno: code)
        }
    }
}
