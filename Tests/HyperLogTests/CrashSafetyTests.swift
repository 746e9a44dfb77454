import Foundation
import HyperLog
import Testing

/// Kills a child process that appends as fast as it can, at random moments, many times over; after every kill the
/// store must open, verify completely, and hold at least every length the child reported as acknowledged.
@Suite struct CrashSafetyTests {
    struct ChildMissing: Error, CustomStringConvertible {
        let path: String
        var description: String { "crash-test child not built at \(path)" }
    }

    static var childExecutable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("hyperlog-crash-child")
    }

    /// Runs the child until it has acknowledged at least `acknowledgements` appends (or `timeout` passes), kills it
    /// with SIGKILL, and returns the highest length it acknowledged.
    static func runChildAndKill(directory: URL, acknowledgements: Int, timeout: Duration) throws -> UInt64 {
        let executable = childExecutable
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw ChildMissing(path: executable.path)
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = [directory.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        // A watchdog so a stuck child can never hang the test: it is killed at the deadline, which ends the read.
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(
            deadline: .now() + .milliseconds(Int(timeout.components.seconds * 1000)), execute: watchdog)

        var pending = ""
        var lastAck: UInt64 = 0
        var seen = 0
        func consume(_ data: Data) {
            pending += String(decoding: data, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let line = pending[..<newline]
                pending = String(pending[pending.index(after: newline)...])
                if line.hasPrefix("ack "), let value = UInt64(line.dropFirst(4)) {
                    lastAck = max(lastAck, value)
                    seen += 1
                }
            }
        }
        let reader = output.fileHandleForReading
        while seen < acknowledgements {
            let data = reader.availableData
            if data.isEmpty { break }
            consume(data)
        }
        kill(pid, SIGKILL)
        process.waitUntilExit()
        watchdog.cancel()
        // Acks still in the pipe were printed before the kill, so they count too.
        consume(reader.readDataToEndOfFile())
        return lastAck
    }

    @Test func killedMidAppendNeverLosesAnAcknowledgedAppend() async throws {
        let directory = temporaryStoreDirectory("crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        var rng = SystemRandomNumberGenerator()
        var highestAck: UInt64 = 0
        let rounds = 12
        for round in 0..<rounds {
            let acknowledged = try Self.runChildAndKill(
                directory: directory, acknowledgements: Int.random(in: 1...150, using: &rng), timeout: .seconds(60))
            #expect(acknowledged > 0, "round \(round): the child acknowledged nothing")
            highestAck = max(highestAck, acknowledged)

            let store = try LogStore(directory: directory)
            let log = try await store.writableLog(name: "crash-test")
            let length = await log.length
            #expect(length >= highestAck, "round \(round): acknowledged \(highestAck), store has \(length)")
            try await log.verifyEverything()
            // The content is exactly what the child wrote, in order.
            if length > 0 {
                #expect(try await log.get(length - 1) == Array("entry-\(length - 1)".utf8))
                #expect(try await log.get(0) == Array("entry-0".utf8))
            }
        }
    }
}
