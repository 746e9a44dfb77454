import Foundation

/// One of our Node scripts in `Tests/interop`, run with the reference tree's modules: the Node side of the benchmarks
/// that measure us beside the Holepunch reference.
enum NodeScript {
    /// Runs `name` with `arguments` until it exits; `input` goes to its stdin (then closed); its stderr is shown
    /// unless `quiet`. Returns what it printed on stdout and its exit status.
    static func run(
        _ name: String, arguments: [String], modules: String, input: String? = nil, quiet: Bool = false
    ) throws -> (output: Data, status: Int32) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/interop/\(name)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/node")
        process.arguments = [script] + arguments
        process.environment = ["NODE_PATH": modules, "PATH": "/usr/bin:/bin"]
        let stdin = Pipe(), stdout = Pipe()
        if input != nil { process.standardInput = stdin }
        process.standardOutput = stdout
        if quiet { process.standardError = FileHandle.nullDevice }
        try process.run()
        if let input {
            try stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (output, process.terminationStatus)
    }
}
