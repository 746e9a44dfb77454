import Foundation
import NIOPosix
import Testing
import TestVectors

/// The IRC send queue is a setting (`--sendq`, or `sendq` in pearircd.conf): it is what a client may have pending
/// before "SendQ exceeded", and what sizes the CHATHISTORY limit a client is told (a whole answer must fit in it).
@Suite struct SendQueueOptionTests {
    @Test func theSendQueueIsASettingClientsSeeTheEffectOf() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-sendq-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "sendq 64K\n".write(to: directory.appendingPathComponent("pearircd.conf"), atomically: true, encoding: .utf8)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (gateway, irc, _) = try await GatewayProcess.start(directory: directory)
        let client = try await LineClient.connect(port: irc, group: group)
        try await client.send("NICK sized")
        try await client.send("USER s 0 * :s")
        // 64 KiB: answers of at most 64 lines (one KiB each at most).
        let isupport = try await client.waitFor("ISUPPORT with CHATHISTORY") { $0.contains(" 005 ") && $0.contains("CHATHISTORY=") }
        #expect(isupport.contains("CHATHISTORY=64 "), "\(isupport)")
        await client.close()
        await gateway.stop()
        try await group.shutdownGracefully()
    }

    @Test(arguments: ["sendq 100\n", "sendq 2G\n", "sendq lots\n"])
    func aSendQueueOutOfRangeStopsTheStartWithWhy(_ file: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-sendq-bad-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try file.write(to: directory.appendingPathComponent("pearircd.conf"), atomically: true, encoding: .utf8)
        do {
            _ = try await GatewayProcess.start(directory: directory)
            Issue.record("pearircd started with \(file)")
        } catch {
            #expect("\(error)".contains("sendq"), "\(error)")
        }
    }
}
