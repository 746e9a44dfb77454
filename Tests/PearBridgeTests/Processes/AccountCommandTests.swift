import Foundation
import Testing

@testable import PearBridge

/// `pearircd account …` as an admin runs it: the first account keeps the gateway's identity and is an admin; the
/// password comes from standard input when it is not a terminal; the last admin cannot be removed; a bad name is a
/// usage error with nothing stored.
@Suite(.serialized) struct AccountCommandTests {
    /// Runs `pearircd` with `arguments`, `input` on its standard input; returns its exit status and output.
    static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
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
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
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
