import Foundation

/// Where `pearircd` keeps its state: identity, store, certificates, configuration.
///
/// Defaults to `$XDG_DATA_HOME/pearircd`, or `~/.local/share/pearircd` when XDG_DATA_HOME is unset, as the XDG base
/// directory specification says.
public struct DataDirectory: Sendable, Equatable {
    public let url: URL

    public init(url: URL) {
        self.url = url.standardizedFileURL
    }

    /// The default location for the current user and environment.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> DataDirectory {
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty, xdg.hasPrefix("/") {
            return DataDirectory(url: URL(fileURLWithPath: xdg).appendingPathComponent("pearircd"))
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return DataDirectory(
            url: URL(fileURLWithPath: home).appendingPathComponent(".local/share/pearircd"))
    }

    /// Creates the directory if it does not exist yet, and makes it (and the store inside) mode 0700 every time: it
    /// holds secret keys, the room catalogue and the TLS key, and a directory made by hand or by an older version
    /// may have been readable by all.
    public func prepare() throws {
        try FileManager.default.createDirectory(
            at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: url.path)
        let store = url.appendingPathComponent("store").path
        if FileManager.default.fileExists(atPath: store) {
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: store)
        }
    }

    public func file(_ name: String) -> URL {
        url.appendingPathComponent(name)
    }
}
