import Foundation
import Synchronization

/// A real `pearircd run` child process with its own data directory, for multi-gateway tests.
final class GatewayProcess: Sendable {
    struct StartFailure: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    let directory: URL
    private let process: Process
    /// Everything the process printed, shared with the pipe's reader.
    final class Output: Sendable {
        let text = Mutex<String>("")
    }

    private let output = Output()
    /// The exit status, delivered once by the process's termination handler.
    private let exit: AsyncStream<Int32>

    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("pearircd")
    }

    /// Starts a gateway and waits until it reports its IRC and peer ports.
    static func start(directory: URL, peers: [Int] = []) async throws -> (GatewayProcess, irc: Int, peer: Int) {
        let gateway = try GatewayProcess(directory: directory, peers: peers)
        let irc = try await gateway.port("plain"), peer = try await gateway.port("peers")
        return (gateway, irc, peer)
    }

    private init(directory: URL, peers: [Int]) throws {
        self.directory = directory
        process = Process()
        process.executableURL = Self.executable
        process.arguments = [
            "run", "--data-dir", directory.path, "--port", "0", "--no-tls", "--peer-host", "127.0.0.1",
            "--peer-port", "0", "--history-on-join", "50",
        ] + peers.flatMap { ["--peer", "127.0.0.1:\($0)"] }
        let pipe = Pipe()
        process.standardOutput = pipe
        // Logs too (swift-log writes to stderr), so tests can wait for what a gateway reports.
        process.standardError = pipe
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        let (exit, exited) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.exit = exit
        process.terminationHandler = { process in
            exited.yield(process.terminationStatus)
            exited.finish()
        }
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
            throw StartFailure(reason: "pearircd not built at \(Self.executable.path)")
        }
        try process.run()
    }

    /// The port of the `listening <kind> HOST PORT` line, waiting for it with a timeout.
    func port(_ kind: String, timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = output.text.withLock { text -> Int? in
                for line in text.split(separator: "\n") where line.hasPrefix("listening \(kind) ") {
                    return line.split(separator: " ").last.flatMap { Int($0) }
                }
                return nil
            }
            if let found { return found }
            guard process.isRunning else { throw StartFailure(reason: "pearircd exited: \(output.text.withLock { $0 })") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StartFailure(reason: "no 'listening \(kind)' line in time")
    }

    /// Waits until the process has printed (or logged) `text`.
    func waitForOutput(containing text: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.text.withLock({ $0.contains(text) }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StartFailure(reason: "no '\(text)' in the output in time")
    }

    /// Sends `signal` to the process.
    func send(signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// The process's exit status, once it has exited; nil if it is still running after `timeout`.
    func exitStatus(timeout: Duration) async -> Int32? {
        let exit = self.exit
        return await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                for await status in exit { return status }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Everything the process printed so far.
    var printed: String { output.text.withLock { $0 } }

    /// Stops the process (SIGTERM, then SIGKILL) and waits for it to exit.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
