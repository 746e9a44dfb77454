import Foundation
import HyperLog
import NIOPosix
import NetworkLab
@testable import PearBridge
import Synchronization
import TestVectors
import Testing

/// A room reached from Node: a Hyperswarm 4 peer of the reference tree (`Tests/interop/swarm-room-peer.js`) joins
/// a room's discovery topic on a local test net of our DHT nodes, meets a `pearircd run` gateway that joined the
/// room, is offered the room (`pearirc/room/v1`, channel id = the room topic), answers with its hello, and replicates
/// the room's log with hypercore 11: it reads the line an IRC client wrote. Skipped, with the reason, where Node or
/// the reference tree (`../interop` beside the repository, or where `PEARIRC_INTEROP` points) is absent.
@Suite(.serialized) struct SwarmRoomInteropTests {
    /// The reference tree's `node_modules`, with the modules this test needs.
    static let nodeModules = InteropTree.nodeModules(requiring: ["hyperswarm", "hypercore", "protomux", "compact-encoding", "b4a"])

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("interop/swarm-room-peer.js").path
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        return try? stride(from: 0, to: digits.count, by: 2).map { index in
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                throw CancellationError()
            }
            return byte
        }
    }

    @Test func nodeSwarmPeerReplicatesTheRoom() async throws {
        guard let modules = Self.nodeModules else {
            print("skipped: the Node reference tree (../interop/ref/node_modules or $PEARIRC_INTEROP) is absent")
            return
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-swarm-interop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let room = RoomTopic(foldedChannelName: "#room")
        let text = "hello node"

        try await DHTTestNet.run(size: 6) { net, _, _ in
            let port = Int(net.bootstrap.port)
            let (gateway, irc, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("gateway"), bootstrap: [port])
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            var node: NodeProcess?
            var failure: (any Error)?
            do {
                #expect(try await gateway.port("dht") > 0)
                let alice = try await LineClient.connect(port: irc, group: group)
                try await SwarmRoomProcessTests.register(alice, "alice")
                try await SwarmRoomProcessTests.join(alice, "alice", "#room")
                try await alice.send("PRIVMSG #room :\(text)")
                // The gateway's transport key (the first 12 z-base-32 characters): the key the Node peer should meet.
                let identity = try await SwarmRoomProcessTests.transportKey(of: alice)

                let peer = try NodeProcess(
                    modules: modules,
                    arguments: [Self.script, "\(port)", Self.hex(room.discoveryTopic), Self.hex(room.bytes)])
                node = peer
                let offered = try await peer.next(timeout: .seconds(60)) { $0["offered"] != nil }
                #expect(offered["offered"] as? String == Self.hex(room.bytes), "\(offered)")
                let remoteKey = (offered["remoteKey"] as? String).flatMap { Self.bytes(hex: $0) } ?? []
                #expect(remoteKey.count == 32 && ZBase32.encode(remoteKey).hasPrefix(identity), "\(offered) vs \(identity)")

                let wanted = Array(text.utf8)
                let written = try await peer.next(timeout: .seconds(60)) { object in
                    guard object["writer"] != nil, let blocks = object["blocks"] as? [String] else { return false }
                    return blocks.contains { Self.bytes(hex: $0).map { Self.contains($0, wanted) } ?? false }
                }
                let blocks = (written["blocks"] as? [String] ?? []).compactMap { Self.bytes(hex: $0) }
                let lossy = blocks.map { String(decoding: $0, as: UTF8.self) }
                #expect(lossy.contains { $0.contains(text) }, "\(written)")
                #expect((written["length"] as? Int ?? 0) >= 1, "\(written)")
                let errors = peer.seen.filter { $0.contains("\"error\"") }
                #expect(errors.isEmpty, "the Node peer reported \(errors)")
                print("node peer: offered \(offered), replicated \(written)")
                await alice.close()
            } catch {
                failure = error
            }
            if failure != nil, let node { print("node peer printed: \(node.seen)") }
            if failure != nil { print("gateway printed: \(gateway.printed)") }
            await node?.stop()
            await gateway.stop()
            try await group.shutdownGracefully()
            if let failure { throw failure }
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    /// The Node script as a child process: the JSON objects of its output lines, awaited with a deadline.
    final class NodeProcess: @unchecked Sendable {
        struct Failure: Error, CustomStringConvertible {
            let description: String
        }

        private let process = Process()
        private let input = Pipe()
        private let output = Pipe()
        /// What the script printed, shared with the pipe's reader.
        final class Output: Sendable {
            /// Output not yet split into lines, the lines not yet taken, and whether the pipe ended.
            let state = Mutex<(buffer: Data, lines: [String], ended: Bool)>((Data(), [], false))
            /// Every line the script printed (for the failure messages).
            let all = Mutex<[String]>([])
        }

        private let printed = Output()

        init(modules: String, arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/node")
            process.arguments = arguments
            process.environment = ["NODE_PATH": modules, "PATH": "/usr/bin:/bin"]
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            let printed = self.printed
            output.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil }
                let lines = printed.state.withLock { state -> [String] in
                    if data.isEmpty { state.ended = true }
                    state.buffer += data
                    var lines: [String] = []
                    while let newline = state.buffer.firstIndex(of: 0x0a) {
                        lines.append(String(decoding: state.buffer[state.buffer.startIndex..<newline], as: UTF8.self))
                        state.buffer = Data(state.buffer[state.buffer.index(after: newline)...])
                    }
                    state.lines += lines
                    return lines
                }
                printed.all.withLock { $0 += lines }
            }
            try process.run()
        }

        var seen: [String] { printed.all.withLock { $0 } }

        /// The next printed JSON object that satisfies `predicate` (the lines before it are passed over).
        func next(timeout: Duration, _ predicate: ([String: Any]) -> Bool) async throws -> [String: Any] {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let (lines, ended) = printed.state.withLock { state -> ([String], Bool) in
                    defer { state.lines.removeAll() }
                    return (state.lines, state.ended)
                }
                for (index, line) in lines.enumerated() {
                    guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                        predicate(object)
                    else { continue }
                    // Lines after the one found stay for the next wait.
                    let rest = Array(lines[(index + 1)...])
                    printed.state.withLock { $0.lines.insert(contentsOf: rest, at: 0) }
                    return object
                }
                if ended { throw Failure(description: "the Node peer exited; it printed \(seen)") }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw Failure(description: "nothing awaited from the Node peer in time; it printed \(seen)")
        }

        /// Closes its stdin (the script then leaves the swarm and exits), then SIGTERM and SIGKILL if it lingers.
        func stop() async {
            try? input.fileHandleForWriting.close()
            for signal in [SIGTERM, SIGKILL] {
                let deadline = ContinuousClock.now + .seconds(5)
                while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
                guard process.isRunning else { break }
                kill(process.processIdentifier, signal)
            }
            process.waitUntilExit()
        }

        deinit {
            output.fileHandleForReading.readabilityHandler = nil
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }
}
