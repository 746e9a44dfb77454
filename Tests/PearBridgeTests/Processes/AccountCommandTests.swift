import Foundation
import Testing

@testable import PearBridge

/// `pearircd account …` as an admin runs it: the first account keeps the gateway's identity and is an admin; the
/// password comes from standard input when it is not a terminal; the last admin cannot be removed; a bad name is a
/// usage error with nothing stored.
@Suite(.serialized) struct AccountCommandTests {
    /// Runs `pearircd` with `arguments`, `input` on its standard input; returns its exit status and output.
    static func run(_ arguments: [String], input: String = "") async throws -> (status: Int32, output: String) {
        let started = try start(arguments, input: input)
        let output = await finished(started)
        return (started.process.terminationStatus, output)
    }

    /// A `pearircd` command started: the process, the pipe its output comes on, and its exit (Foundation's termination
    /// handler, so nobody blocks in `waitUntilExit`).
    struct Started {
        let process: Process
        let stdout: Pipe
        let exited: AsyncStream<Void>
    }

    /// Everything the process wrote, once it has ended. Its output is read on a dispatch thread and its exit awaited,
    /// not waited for on one of the few threads of Swift's shared pool: a password hash takes a second, and tests
    /// blocking both pool threads at once stall every other test meanwhile (seen: another test's events not read for
    /// twenty seconds).
    static func finished(_ started: Started) async -> String {
        let output = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: String(decoding: started.stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
            }
        }
        for await _ in started.exited {}
        return output
    }

    /// Starts `pearircd` with `arguments`, writes `input` to its standard input and closes it; returns the process and
    /// the pipe its output (and errors) come on.
    static func start(_ arguments: [String], input: String) throws -> Started {
        let process = Process()
        let (exited, exit) = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exit.finish() }
        process.executableURL = GatewayProcess.executable
        process.arguments = arguments
        process.environment = GatewayProcess.environment
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        return Started(process: process, stdout: stdout, exited: exited)
    }

    @Test func accountsAreManagedFromTheCommandLine() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-accountcli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.path]
        let identity = try await Self.run(["identity"] + data)
        let gatewayKey = try #require(identity.output.split(separator: "\n").first?.split(separator: " ").last.map(String.init))

        let first = try await Self.run(["account", "add", "Alice"] + data, input: "correct horse\n")
        #expect(first.status == 0 && first.output.contains("added Alice (admin), identity \(gatewayKey)"), "\(first.output)")
        let second = try await Self.run(["account", "add", "bob"] + data, input: "hunter22\n")
        #expect(second.status == 0 && second.output.contains("added bob (user)") && !second.output.contains(gatewayKey))
        #expect(try await Self.run(["account", "add", "BOB"] + data, input: "x\n").status != 0, "names are unique regardless of case")
        let bad = try await Self.run(["account", "add", "bad name"] + data, input: "x\n")
        #expect(bad.status == 64 && bad.output.contains("only letters, digits"))
        #expect(try await Self.run(["account", "add", "carol"] + data, input: "").status != 0, "no password, no account")

        let lastAdmin = try await Self.run(["account", "remove", "alice"] + data)
        #expect(lastAdmin.status != 0 && lastAdmin.output.contains("last admin"))
        #expect(try await Self.run(["account", "role", "bob", "admin"] + data).status == 0)
        #expect(try await Self.run(["account", "disable", "alice"] + data).status == 0)
        let list = try await Self.run(["account", "list"] + data)
        #expect(list.output.split(separator: "\n").map { $0.split(separator: " ").prefix(1).joined() } == ["Alice", "bob"])
        #expect(list.output.contains("Alice  admin  disabled") && list.output.contains("bob  admin  enabled"))

        // What the command wrote, read back: the passwords work, the file is private.
        let database = try AccountDatabase(file: directory.appendingPathComponent(AccountDatabase.fileName))
        #expect(try database.verify(AccountName("bob"), password: Array("hunter22".utf8)) != nil)
        #expect(try database.verify(AccountName("alice"), password: Array("correct horse".utf8)) == nil, "disabled")
        let mode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(AccountDatabase.fileName).path)[.posixPermissions]
        #expect(mode as? Int == 0o600)
    }
}

/// The accounts database under `kill -9`: `pearircd account add` killed at random moments of its work never loses an
/// account it reported added, and never leaves a database that does not open or check.
@Suite(.serialized) struct AccountDatabaseCrashTests {
    @Test func accountsReportedAddedSurviveKillsMidWrite() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-accountcrash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.path]
        var added: [String] = []
        var killed = 0
        for round in 0..<12 {
            let name = "user\(round)"
            let started = try AccountCommandTests.start(["account", "add", name] + data, input: "password \(round)\n")
            let process = started.process
            if round % 2 == 1 {
                // Every other one is killed somewhere in its work: before, during or after its write (the hash takes
                // tens of milliseconds, so these land in different places). Timed on a dispatch queue, not a task: a
                // busy test run's task pool could wake a sleeping task only after the process is done. (A process that
                // already ended gets the signal on its old pid: Linux hands pids out in sequence up to pid_max, so none
                // is reused within the 80 ms.)
                let pid = process.processIdentifier
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int.random(in: 0...80))) { kill(pid, SIGKILL) }
            }
            let output = await AccountCommandTests.finished(started)
            if process.terminationReason == .uncaughtSignal { killed += 1 }
            if process.terminationStatus == 0, process.terminationReason == .exit, output.contains("added \(name)") { added.append(name) }
        }
        #expect(added.count >= 6, "the ones not killed were added")
        #expect(killed >= 1, "at least one was killed before it finished (\(added.count) added)")
        let database = try AccountDatabase(file: directory.appendingPathComponent(AccountDatabase.fileName))
        let names = Set(try database.list().map(\.name))
        #expect(Set(added).isSubset(of: names), "every account reported added is there: \(added) in \(names)")
        #expect(try database.integrityCheck() == ["ok"])
        // And the database still takes changes.
        try database.add(AccountName("after"), password: Array("pw".utf8), role: .user)
    }
}
