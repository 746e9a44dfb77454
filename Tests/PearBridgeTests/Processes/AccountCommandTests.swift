import Foundation
import Testing

@testable import PearBridge

/// `pearircd account …` as an admin runs it: the first account keeps the gateway's identity and is an admin; the
/// password comes from standard input when it is not a terminal; the last admin cannot be removed; a bad name is a
/// usage error with nothing stored.
@Suite(.serialized) struct AccountCommandTests {
    /// Runs `pearircd` with `arguments`, `input` on its standard input; returns its exit status and output.
    static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
        let (process, stdout) = try start(arguments, input: input)
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// Starts `pearircd` with `arguments`, writes `input` to its standard input and closes it; returns the process and
    /// the pipe its output (and errors) come on.
    static func start(_ arguments: [String], input: String) throws -> (Process, Pipe) {
        let process = Process()
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
        return (process, stdout)
    }

    @Test func accountsAreManagedFromTheCommandLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-accountcli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.path]
        let identity = try Self.run(["identity"] + data)
        let gatewayKey = try #require(identity.output.split(separator: "\n").first?.split(separator: " ").last.map(String.init))

        let first = try Self.run(["account", "add", "Alice"] + data, input: "correct horse\n")
        #expect(first.status == 0 && first.output.contains("added Alice (admin), identity \(gatewayKey)"), "\(first.output)")
        let second = try Self.run(["account", "add", "bob"] + data, input: "hunter22\n")
        #expect(second.status == 0 && second.output.contains("added bob (user)") && !second.output.contains(gatewayKey))
        #expect(try Self.run(["account", "add", "BOB"] + data, input: "x\n").status != 0, "names are unique regardless of case")
        let bad = try Self.run(["account", "add", "bad name"] + data, input: "x\n")
        #expect(bad.status == 64 && bad.output.contains("only letters, digits"))
        #expect(try Self.run(["account", "add", "carol"] + data, input: "").status != 0, "no password, no account")

        let lastAdmin = try Self.run(["account", "remove", "alice"] + data)
        #expect(lastAdmin.status != 0 && lastAdmin.output.contains("last admin"))
        #expect(try Self.run(["account", "role", "bob", "admin"] + data).status == 0)
        #expect(try Self.run(["account", "disable", "alice"] + data).status == 0)
        let list = try Self.run(["account", "list"] + data)
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
    @Test func accountsReportedAddedSurviveKillsMidWrite() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-accountcrash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.path]
        var added: [String] = []
        var killed = 0
        for round in 0..<12 {
            let name = "user\(round)"
            let (process, stdout) = try AccountCommandTests.start(["account", "add", name] + data, input: "password \(round)\n")
            if round % 2 == 1 {
                // Every other one is killed somewhere in its work: before, during or after its write (the hash takes
                // tens of milliseconds, so these land in different places). Timed on a dispatch queue, not a task: a
                // busy test run's task pool could wake a sleeping task only after the process is done. (A process that
                // already ended gets the signal on its old pid: Linux hands pids out in sequence up to pid_max, so none
                // is reused within the 80 ms.)
                let pid = process.processIdentifier
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int.random(in: 0...80))) { kill(pid, SIGKILL) }
            }
            let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
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
