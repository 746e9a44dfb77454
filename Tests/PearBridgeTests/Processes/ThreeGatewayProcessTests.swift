import Foundation
import Synchronization
import NIOPosix
import TestVectors
import Testing

/// Three `pearircd` processes on loopback in a line (A – B – C), each with its own data directory and an IRC
/// client: lines cross both ways and along the line, a nick change shows up remotely, and a gateway that was
/// stopped catches up on restart.
@Suite(.serialized) struct ThreeGatewayProcessTests {
    static func register(_ client: LineClient, _ nick: String, channel: String) async throws {
        try await client.send("NICK \(nick)")
        try await client.send("USER \(nick) 0 * :\(nick)")
        try await client.waitFor(containing: " 001 \(nick) ", timeout: .seconds(20))
        try await client.send("JOIN \(channel)")
        try await client.waitFor(containing: " 366 \(nick) ", timeout: .seconds(20))
    }

    @Test func chatAlongTheLineAndCatchUpAfterRestart() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-three-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"))
        let (b, bIRC, bPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), peers: [aPeer])
        var (c, cIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), peers: [bPeer])

        let alice = try await LineClient.connect(port: aIRC, group: group)
        let bob = try await LineClient.connect(port: bIRC, group: group)
        var carol = try await LineClient.connect(port: cIRC, group: group)
        try await Self.register(alice, "alice", channel: "#line")
        try await Self.register(bob, "bob", channel: "#line")
        try await Self.register(carol, "carol", channel: "#line")

        // A to C through B, and back.
        try await alice.send("PRIVMSG #line :hello from the start of the line")
        try await carol.waitFor(containing: "PRIVMSG #line :hello from the start of the line", timeout: .seconds(30))
        try await carol.send("PRIVMSG #line :and back from the end")
        try await alice.waitFor(containing: "PRIVMSG #line :and back from the end", timeout: .seconds(30))
        try await bob.waitFor(containing: "PRIVMSG #line :and back from the end", timeout: .seconds(30))

        // A nick change on A reaches C.
        try await alice.send("NICK alicia")
        try await carol.waitFor(containing: " NICK alicia", timeout: .seconds(30))

        // C stops; A and B talk; C restarts from its data directory and catches up.
        await carol.close()
        await c.stop()
        try await alice.send("PRIVMSG #line :while carol was away")
        try await bob.waitFor(containing: "while carol was away", timeout: .seconds(30))
        (c, cIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), peers: [bPeer])
        carol = try await LineClient.connect(port: cIRC, group: group)
        try await Self.register(carol, "carol", channel: "#line")
        // The missed line arrives: as history on join if replication was quick, or live right after.
        try await carol.waitFor(containing: "while carol was away", timeout: .seconds(30))

        for client in [alice, bob, carol] { await client.close() }
        for process in [a, b, c] { await process.stop() }
        try await group.shutdownGracefully()
    }

    /// A gateway whose stored log was tampered with (a block's bytes changed on disk, its signed tree untouched) is
    /// asked for it by a new peer: the block fails its stored-hash check, the gateway reports its store damaged (and
    /// serves nothing of it), and the peer never shows the altered line. (A peer that did get altered bytes would
    /// reject them too: its verification is tested in HyperLog.)
    @Test func aTamperedLogIsRejectedByItsPeers() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-tamper-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let aDirectory = root.appendingPathComponent("a")
        let (a, aIRC, aPeer) = try await GatewayProcess.start(directory: aDirectory)
        let alice = try await LineClient.connect(port: aIRC, group: group)
        try await Self.register(alice, "alice", channel: "#tamper")
        try await alice.send("PRIVMSG #tamper :an honest line")
        try await alice.send("PRIVMSG #tamper :the original words")

        // While A runs (it reads blocks from its store when serving them): once the line is stored, change its
        // bytes, same length, so the block no longer matches the hash the signed tree commits to. The script waits
        // for the row (the append is asynchronous to the IRC side), up to 20 s.
        let database = aDirectory.appendingPathComponent("store/store.sqlite").path
        let script = """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], timeout=10)
            deadline = time.monotonic() + 20
            while True:
                rows = db.execute("SELECT core, idx, data FROM block").fetchall()
                hits = [(c, i, d) for (c, i, d) in rows if b"the original words" in d]
                if hits or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            assert len(hits) == 1, hits
            c, i, d = hits[0]
            db.execute("UPDATE block SET data = ? WHERE core = ? AND idx = ?", (d.replace(b"the original words", b"THE ALTERED WORDS!"), c, i))
            db.commit()
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, database]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0, "the block to tamper with was found and changed")

        let (d, dIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("d"), peers: [aPeer])
        let dave = try await LineClient.connect(port: dIRC, group: group)
        try await Self.register(dave, "dave", channel: "#tamper")
        try await a.waitForOutput(containing: "the store is damaged")
        #expect(a.printed.contains("does not match its stored hash"))
        // Everything D sent its client before this PONG has been read: the altered words are not among it.
        let sawAltered = Mutex(false)
        try await dave.send("PING :after")
        try await dave.waitFor("PONG after") { line in
            if line.contains("ALTERED") { sawAltered.withLock { $0 = true } }
            return line.contains("after")
        }
        #expect(!sawAltered.withLock { $0 })
        for client in [alice, dave] { await client.close() }
        for process in [a, d] { await process.stop() }
        try await group.shutdownGracefully()
    }

    /// A peer named only in the data directory's `pearircd.conf` is dialled like `--peer`.
    @Test func aPeerFromTheConfigurationFileIsDialled() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-config-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"))
        let bDirectory = root.appendingPathComponent("b")
        try FileManager.default.createDirectory(at: bDirectory, withIntermediateDirectories: true)
        try "# B's options\npeer = 127.0.0.1:\(aPeer)\n".write(
            to: bDirectory.appendingPathComponent("pearircd.conf"), atomically: true, encoding: .utf8)
        let (b, bIRC, _) = try await GatewayProcess.start(directory: bDirectory)
        let alice = try await LineClient.connect(port: aIRC, group: group)
        let bob = try await LineClient.connect(port: bIRC, group: group)
        try await Self.register(alice, "alice", channel: "#conf")
        try await Self.register(bob, "bob", channel: "#conf")
        try await bob.send("PRIVMSG #conf :found you through the file")
        try await alice.waitFor(containing: "PRIVMSG #conf :found you through the file", timeout: .seconds(30))
        for client in [alice, bob] { await client.close() }
        for process in [a, b] { await process.stop() }
        try await group.shutdownGracefully()
    }

    /// A mistake in `pearircd.conf` stops the start with the file, the line and what is wrong.
    @Test func aBadConfigurationFileIsReportedWithItsLine() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-badconf-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cases = [
            ("# fine\n--peer 127.0.0.1:1\n", "pearircd.conf: line 2: '--peer' is not an option name"),
            ("no-such-option 1\n", "pearircd.conf: Unknown option '--no-such-option'"),
        ]
        for (text, report) in cases {
            try text.write(to: directory.appendingPathComponent("pearircd.conf"), atomically: true, encoding: .utf8)
            do {
                _ = try await GatewayProcess.start(directory: directory)
                Issue.record("pearircd started with a malformed configuration file")
            } catch {
                #expect("\(error)".contains(report), "\(error)")
            }
        }
    }
}
