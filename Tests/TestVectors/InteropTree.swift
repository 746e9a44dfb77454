import Foundation

/// The Node.js reference tree of ../shared/interop (assembled beside the repository as `../interop`, or where
/// `PEARIRC_INTEROP` points), for the live interop tests of every test target; they skip where it is absent (as in CI).
public enum InteropTree {
    /// The tree's `node_modules`, when it holds every one of `modules` and Node is installed; else nil.
    public static func nodeModules(requiring modules: [String]) -> String? {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let interop = ProcessInfo.processInfo.environment["PEARIRC_INTEROP"]
            ?? repository.deletingLastPathComponent().appendingPathComponent("interop").path
        let tree = URL(fileURLWithPath: interop).appendingPathComponent("ref/node_modules")
        guard modules.allSatisfy({ FileManager.default.fileExists(atPath: tree.appendingPathComponent($0).path) }),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/node")
        else { return nil }
        return tree.path
    }
}
