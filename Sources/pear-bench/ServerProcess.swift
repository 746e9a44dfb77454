import Foundation

/// A server process a benchmark started (pearircd, nio-floor): the ports it printed, and its CPU time and memory
/// read from /proc, so a figure can be charged to the process that spent it.
struct ServerProcess {
    let process: Process
    /// The ports it printed as `listening KIND HOST PORT`, by kind (`plain`, `tls`, `peers`).
    let ports: [String: Int]

    var pid: Int32 { process.processIdentifier }

    /// A binary built next to this one.
    static func besideThisBinary(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Starts `binary` with `arguments` and returns once it printed its plain IRC listener (pearircd prints its peer
    /// listener before it).
    static func start(_ binary: URL, arguments: [String]) throws -> ServerProcess {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw IRCBenchmarks.Failure(
                description: "\(binary.path) not found: build it (swift build -c release --product \(binary.lastPathComponent)) or pass --port")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var pending = Data()
        var ports: [String: Int] = [:]
        while true {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            pending += chunk
            for line in String(decoding: pending, as: UTF8.self).split(separator: "\n") {
                let words = line.split(separator: " ")
                guard words.count == 4, words[0] == "listening", let port = Int(words[3]) else { continue }
                ports[String(words[1])] = port
                if words[1] == "plain" { return ServerProcess(process: process, ports: ports) }
            }
        }
        process.terminate()
        throw IRCBenchmarks.Failure(description: "\(binary.lastPathComponent) exited before listening")
    }

    /// `--no-dht` for a pearircd that has a DHT (a benchmark's gateways never join the public one), nothing for an
    /// older build that predates it (`--pearircd` may name one, to compare builds).
    static func offTheDHT(_ binary: URL) -> [String] {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["run", "--help"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return ["--no-dht"] }
        let help = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return help.contains("--no-dht") ? ["--no-dht"] : []
    }

    /// User + system CPU seconds so far.
    func cpuSeconds() throws -> Double { try IRCBenchmarks.cpuSeconds(pid: pid) }

    /// Resident memory in MiB (`VmRSS`).
    func residentMiB() throws -> Double { Double(try IRCBenchmarks.residentKiB(pid: pid)) / 1024 }

    /// Stops it as a user would (SIGTERM) and waits for it to exit.
    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
