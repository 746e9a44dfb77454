import Foundation
import Synchronization
import TestVectors

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
        /// The pipe reached its end (the process and any children closed it): nothing more will arrive.
        let ended = Mutex(false)
    }

    private let output = Output()
    /// The exit status, delivered once by the process's termination handler.
    private let exit: AsyncStream<Int32>

    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("pearircd")
    }

    /// Whether gateways can be started on a small disk of their own (`start(..., diskSize:)`): that takes root (a
    /// mount namespace and a tmpfs) and util-linux's `unshare`.
    static var canUseSmallDisk: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
    }

    /// Starts a gateway and waits until it reports its IRC and peer ports. With `diskSize` (e.g. "4m"), the data
    /// directory is a tmpfs of that size that only the gateway sees (its own mount namespace); `fileInDataDirectory`
    /// reaches it from outside. With `bootstrap` (the UDP ports of a local test net's nodes on 127.0.0.1) the gateway
    /// joins that DHT; without, it runs with `--no-dht` (never the public network: the helper forbids it).
    /// `extraArguments`: more `pearircd run` options (such as `--web-port 0`).
    static func start(
        directory: URL, peers: [Int] = [], bootstrap: [Int]? = nil, diskSize: String? = nil, extraArguments: [String] = []
    ) async throws -> (GatewayProcess, irc: Int, peer: Int) {
        let gateway = try GatewayProcess(
            directory: directory, peers: peers, bootstrap: bootstrap, diskSize: diskSize, extraArguments: extraArguments)
        let irc = try await gateway.port("plain"), peer = try await gateway.port("peers")
        return (gateway, irc, peer)
    }

    private convenience init(directory: URL, peers: [Int], bootstrap: [Int]?, diskSize: String?, extraArguments: [String]) throws {
        let dht = bootstrap.map { ports in ["--dht-host", "127.0.0.1"] + ports.flatMap { ["--bootstrap", "127.0.0.1:\($0)"] } }
        let arguments = [
            "run", "--data-dir", directory.path, "--port", "0", "--no-tls", "--peer-host", "127.0.0.1",
            "--peer-port", "0", "--history-on-join", "50",
        ] + peers.flatMap { ["--peer", "127.0.0.1:\($0)"] } + (dht ?? ["--no-dht"]) + extraArguments
        if let diskSize {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        try self.init(directory: directory) { process in
            if let diskSize {
                // unshare and sh exec in place: the process is the gateway itself, in a mount namespace of its own.
                process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
                process.arguments = [
                    "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                    "mount -t tmpfs -o size=\"$1\",mode=0700 tmpfs \"$2\" && shift 2 && exec \"$@\"", "sh", diskSize,
                    directory.path, Self.executable.path,
                ] + arguments
            } else {
                process.executableURL = Self.executable
                process.arguments = arguments
            }
            process.environment = Self.environment
        }
    }

    /// The test's environment, with the public DHT bootstrap nodes forbidden: a gateway or node started without a
    /// local `--bootstrap` fails to start instead of reaching the internet.
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(["PEARIRC_FORBID_PUBLIC_BOOTSTRAP": "1"]) { $1 }
    }

    /// Starts `pearircd` with any other subcommand (`dht-node`, …), the public DHT bootstrap nodes forbidden.
    static func launch(_ arguments: [String]) throws -> GatewayProcess {
        try GatewayProcess(directory: FileManager.default.temporaryDirectory) { process in
            process.executableURL = Self.executable
            process.arguments = arguments
            process.environment = Self.environment
        }
    }

    /// The process as `configure` sets it up, its output collected and its exit awaited.
    private init(directory: URL, configure: (Process) throws -> Void) throws {
        self.directory = directory
        process = Process()
        try configure(process)
        let pipe = Pipe()
        process.standardOutput = pipe
        // Logs too (swift-log writes to stderr), so tests can wait for what a gateway reports.
        process.standardError = pipe
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                output.ended.withLock { $0 = true }
                return
            }
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

    /// A test that failed half-way drops its gateways without stopping them: they must not outlive it.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
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
            guard process.isRunning else { throw StartFailure(reason: "pearircd exited: \(await finalOutput())") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StartFailure(reason: "no 'listening \(kind)' line in time")
    }

    /// Everything the process printed, once it has exited: what was still in the pipe when it exited is read first
    /// (the exit can be seen before the last output; waits at most two seconds for the pipe's end).
    private func finalOutput() async -> String {
        let deadline = ContinuousClock.now + .seconds(2)
        while !output.ended.withLock({ $0 }), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return output.text.withLock { $0 }
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

    /// A path in the data directory as the gateway sees it (through its mount namespace when it has a disk of its
    /// own).
    func fileInDataDirectory(_ name: String) -> String {
        "/proc/\(process.processIdentifier)/root" + directory.appendingPathComponent(name).path
    }

    /// Sends `signal` to the process.
    func send(signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// The process's exit status, once it has exited (and everything it printed has been read); nil if it is still
    /// running after `timeout`.
    func exitStatus(timeout: Duration) async -> Int32? {
        let status = await exitStatusAlone(timeout: timeout)
        if status != nil { _ = await finalOutput() }
        return status
    }

    private func exitStatusAlone(timeout: Duration) async -> Int32? {
        await firstElement(of: exit, timeout: timeout)
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
