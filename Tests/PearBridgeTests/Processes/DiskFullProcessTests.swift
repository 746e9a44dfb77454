import Foundation
import NIOPosix
import Synchronization
import TestVectors
import Testing

/// A full disk: every line that cannot be stored is an error its sender sees (and nobody else sees the line), reads
/// go on, and once space is back lines are stored again. The gateway runs on a small tmpfs in a mount namespace of
/// its own (root only).
@Suite(.serialized) struct DiskFullProcessTests {
    /// Writes zeros to `path` until the disk refuses more; returns the bytes written.
    static func fill(_ path: String) -> Int {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var written = 0
        while true {
            let count = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            written += count
        }
        // The last pages, smaller than a chunk.
        let byte: [UInt8] = [0]
        while byte.withUnsafeBytes({ write(descriptor, $0.baseAddress, 1) }) == 1 { written += 1 }
        return written
    }

    @Test(.enabled(if: GatewayProcess.canUseSmallDisk, "needs root and unshare for a tmpfs in a mount namespace"))
    func aFullDiskIsAnErrorForEachLineAndLinesAreStoredAgainOnceSpaceIsBack() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-full-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"), diskSize: "4m")
        let alice = try await LineClient.connect(port: aIRC, group: group)
        try await alice.send("CAP REQ :echo-message standard-replies draft/chathistory batch")
        try await alice.send("CAP END")
        try await ThreeGatewayProcessTests.register(alice, "alice", channel: "#full")
        try await alice.send("PRIVMSG #full :stored before")
        try await alice.waitFor(containing: "PRIVMSG #full :stored before", timeout: .seconds(30))

        let filler = a.fileInDataDirectory("filler")
        #expect(Self.fill(filler) > 0, "the data directory's disk was filled")
        for number in 1...5 { try await alice.send("PRIVMSG #full :lost \(number)") }
        // Each line gets its error; none is echoed.
        let answers = Mutex<[String]>([])
        _ = try await alice.waitFor("five answers", timeout: .seconds(30)) { line in
            answers.withLock { answers in
                if line.contains("lost ") || line.contains("FAIL ") { answers.append(line) }
                return answers.count == 5
            }
        }
        let seen = answers.withLock { $0 }
        #expect(seen.allSatisfy { $0.contains("FAIL PRIVMSG MESSAGE_NOT_STORED #full :") && $0.contains("the disk is full") }, "\(seen)")

        // Reads go on: the history still has what was stored, and none of the lost lines.
        try await alice.send("CHATHISTORY LATEST #full * 10")
        let history = Mutex<[String]>([])
        _ = try await alice.waitFor("the history batch", timeout: .seconds(30)) { line in
            history.withLock { $0.append(line) }
            return line.contains("BATCH -")
        }
        let replayed = history.withLock { $0 }
        #expect(replayed.contains { $0.hasSuffix("PRIVMSG #full :stored before") })
        #expect(!replayed.contains { $0.contains("lost ") })

        // Space is back: lines are stored (and echoed) again.
        try FileManager.default.removeItem(atPath: filler)
        try await alice.send("PRIVMSG #full :stored after")
        let after = try await alice.waitFor("the echo or an error", timeout: .seconds(30)) {
            $0.contains("stored after") || $0.contains("FAIL ")
        }
        #expect(after.hasSuffix("PRIVMSG #full :stored after"), "\(after)")
        await alice.close()
        await a.stop()
        try await group.shutdownGracefully()
    }

    /// What a peer sends cannot be stored either: that is our fault, not the peer's, so it is not banned; once space is
    /// back the lines arrive.
    @Test(.enabled(if: GatewayProcess.canUseSmallDisk, "needs root and unshare for a tmpfs in a mount namespace"))
    func aFullDiskDoesNotBlameThePeerAndReplicationResumesOnceSpaceIsBack() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-fullpeer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"))
        let (b, bIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), peers: [aPeer], diskSize: "4m")
        let alice = try await LineClient.connect(port: aIRC, group: group)
        let bob = try await LineClient.connect(port: bIRC, group: group)
        try await ThreeGatewayProcessTests.register(alice, "alice", channel: "#fullpeer")
        try await ThreeGatewayProcessTests.register(bob, "bob", channel: "#fullpeer")
        try await alice.send("PRIVMSG #fullpeer :the line before")
        try await bob.waitFor(containing: "PRIVMSG #fullpeer :the line before", timeout: .seconds(30))

        let filler = b.fileInDataDirectory("filler")
        #expect(Self.fill(filler) > 0)
        try await alice.send("PRIVMSG #fullpeer :a line while full")
        try await b.waitForOutput(containing: "could not store what a peer sent")
        try FileManager.default.removeItem(atPath: filler)
        try await bob.waitFor(containing: "PRIVMSG #fullpeer :a line while full", timeout: .seconds(60))
        #expect(!b.printed.contains("banning peer"), "the peer was not blamed for our disk")
        for client in [alice, bob] { await client.close() }
        for process in [a, b] { await process.stop() }
        try await group.shutdownGracefully()
    }
}
