import Foundation
import Logging
import NIOPosix
import Sodium
import SwarmEngine
import TestVectors
import Testing

/// A real `pearircd` stopped by SIGTERM while an IRC client and a peer are connected: the client is told why, the
/// peer sees a clean end (not a reset), the process exits 0 within its deadline, and a restart finds the store
/// intact (the line written before the stop is still in history).
@Suite(.serialized) struct ShutdownProcessTests {
    @Test func sigtermEndsClientsAndPeersCleanlyAndTheStoreSurvives() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-shutdown-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (gateway, ircPort, peerPort) = try await GatewayProcess.start(directory: root)

        // An IRC client in a room, with a line that is stored before the signal (CHATHISTORY shows it).
        let client = try await LineClient.connect(port: ircPort, group: group)
        try await client.send("CAP REQ :draft/chathistory batch")
        try await client.send("CAP END")
        try await ThreeGatewayProcessTests.register(client, "alice", channel: "#shut")
        try await client.send("PRIVMSG #shut :written before the shutdown")
        let deadline = ContinuousClock.now + .seconds(20)
        var stored = false
        while !stored, ContinuousClock.now < deadline {
            try await client.send("CHATHISTORY LATEST #shut * 10")
            let answer = try await client.waitFor("the end of a history batch") { $0.hasPrefix("BATCH -") || $0.contains(" BATCH -") || $0.contains("written before the shutdown") }
            stored = answer.contains("written before the shutdown")
        }
        #expect(stored, "the line reached the store before the signal")

        // A peer connected over the real transport, reading what the gateway sends.
        var logger = Logger(label: "test.shutdown-peer")
        logger.logLevel = .error
        let transport = SwarmTransport(keyPair: Ed25519.randomKeyPair(), logger: logger)
        let peer = try await transport.connect(host: "127.0.0.1", port: peerPort)
        try await gateway.waitForOutput(containing: "peer connected")
        let drained = Task {
            var disconnected = false
            for await event in peer.events where event == .disconnected { disconnected = true }
            return disconnected
        }

        // The peer keeps talking (channel opens the gateway refuses) while the gateway shuts down: closing a socket
        // with unread bytes makes the kernel send a reset, so only an end that reads on until the peer's end is clean.
        let pump = Task {
            var index: UInt32 = 0
            while !Task.isCancelled {
                peer.open(protocol: "test/pump", id: withUnsafeBytes(of: index.littleEndian) { Array($0) }, handshake: [])
                index &+= 1
                await peer.writable()
                if index % 32 == 0 { await Task.yield() }
            }
        }
        try await gateway.waitForOutput(containing: "peer connected")

        gateway.send(signal: SIGTERM)
        let closing = try await client.waitFor(containing: "ERROR :Closing Link", timeout: .seconds(10))
        #expect(closing.contains("Server shutting down"))
        try await client.waitUntilClosed(timeout: .seconds(10))
        #expect(await drained.value, "the peer's connection ended")
        pump.cancel()
        #expect(peer.peerEndedCleanly, "the gateway ended the peer connection with an end, not a reset")
        #expect(peer.closeError == nil)
        let status = await gateway.exitStatus(timeout: .seconds(20))
        #expect(status == 0, "exited 0 within the deadline; output:\n\(gateway.printed)")
        #expect(gateway.printed.contains("gateway stopped"))

        // A restart opens the same store (an integrity check runs at open) and still has the line.
        let (again, ircAgain, _) = try await GatewayProcess.start(directory: root)
        let reader = try await LineClient.connect(port: ircAgain, group: group)
        try await ThreeGatewayProcessTests.register(reader, "bob", channel: "#shut")
        do {
            try await reader.waitFor(containing: "written before the shutdown", timeout: .seconds(20))
        } catch {
            Issue.record("\(error)\nfirst run:\n\(gateway.printed)\nsecond run:\n\(again.printed)")
        }
        #expect(!again.printed.contains("corrupt"))

        await reader.close()
        await client.close()
        await again.stop()
        try await transport.shutdown()
        try await group.shutdownGracefully()
    }
}
