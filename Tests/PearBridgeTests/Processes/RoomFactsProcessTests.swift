import Foundation
import NIOPosix
import Synchronization
import TestVectors
import Testing

/// What users see of a room across real `pearircd` processes: nicks, authors, topics, rejoins and a newcomer who
/// tries to take a known nick. Three gateways in a line (A – B – C), each with its own IRC client, and a fourth
/// gateway (D) that starts alone and meets C later.
@Suite(.serialized) struct RoomFactsProcessTests {
    @Test func roomFactsStayRightAcrossGateways() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-facts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, aIRC, aPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("a"))
        let (b, bIRC, bPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("b"), peers: [aPeer])
        let (c, cIRC, cPeer) = try await GatewayProcess.start(directory: root.appendingPathComponent("c"), peers: [bPeer])
        var processes = [a, b, c]
        let alice = try await LineClient.connect(port: aIRC, group: group)
        var bob = try await LineClient.connect(port: bIRC, group: group)
        let carol = try await LineClient.connect(port: cIRC, group: group)
        var clients = [alice, bob, carol]
        try await ThreeGatewayProcessTests.register(alice, "alice", channel: "#facts")
        try await ThreeGatewayProcessTests.register(bob, "bob", channel: "#facts")
        try await ThreeGatewayProcessTests.register(carol, "carol", channel: "#facts")
        // Everyone has seen everyone arrive before the facts start.
        try await carol.waitFor(containing: ":alice!", timeout: .seconds(30))
        try await alice.waitFor(containing: ":carol!", timeout: .seconds(30))

        // Lines under a nick, a rename, a line under the new nick: C sees each under the nick it was written with.
        try await alice.send("PRIVMSG #facts :first words as alice")
        try await carol.waitFor(containing: ":alice!pear@", timeout: .seconds(30))
        try await alice.send("NICK alicia")
        try await carol.waitFor(containing: ":alice!pear@", timeout: .seconds(30))
        try await alice.send("PRIVMSG #facts :then words as alicia")
        let renamedLine = try await carol.waitFor(containing: "then words as alicia", timeout: .seconds(30))
        #expect(renamedLine.hasPrefix(":alicia!"), "\(renamedLine)")
        try await bob.send("PRIVMSG #facts :words from bob")
        try await carol.waitFor(containing: "words from bob", timeout: .seconds(30))

        // A topic from each end of the line, shown with its setter on the other end.
        try await alice.send("TOPIC #facts :set on A")
        let topicOnC = try await carol.waitFor(containing: "TOPIC #facts :set on A", timeout: .seconds(30))
        #expect(topicOnC.hasPrefix(":alicia!"), "\(topicOnC)")
        try await carol.send("TOPIC #facts :set on C")
        let topicOnA = try await alice.waitFor(containing: "TOPIC #facts :set on C", timeout: .seconds(30))
        #expect(topicOnA.hasPrefix(":carol!"), "\(topicOnA)")

        // B's user leaves and a new client with another nick takes B: the others see the new nick, and a message
        // or WHOIS to it works from A (single-user mode: the gateway's user is its latest client).
        await bob.close()
        bob = try await LineClient.connect(port: bIRC, group: group)
        clients.append(bob)
        try await ThreeGatewayProcessTests.register(bob, "robert", channel: "#facts")
        try await alice.waitFor(containing: "robert", timeout: .seconds(30))
        try await alice.send("WHOIS robert")
        let whois = try await alice.waitFor("WHOIS reply", timeout: .seconds(30)) {
            $0.contains(" 311 alicia robert ") || $0.contains(" 401 alicia robert ")
        }
        #expect(whois.contains(" 311 "), "\(whois)")

        // C rejoins: NAMES has today's nicks, and the history replayed on join shows every line under the nick it
        // was written with (alice before the rename, bob for B's earlier user), never under today's nicks.
        // C has seen B's new user too (through B, C's neighbour) before it leaves and comes back.
        try await carol.waitFor(containing: "robert", timeout: .seconds(30))
        try await carol.send("PART #facts")
        try await carol.waitFor(containing: "PART #facts", timeout: .seconds(30))
        try await carol.send("JOIN #facts")
        let seen = Mutex<(replay: [String], names: [String])>(([], []))
        // The replay follows the JOIN burst (it is read from the store); it ends with the last line written.
        _ = try await carol.waitFor("NAMES and the replay on rejoin", timeout: .seconds(30)) { line in
            seen.withLock {
                if line.contains("PRIVMSG #facts") { $0.replay.append(line) }
                if line.contains(" 353 ") { $0.names.append(line) }
                return line.hasSuffix("PRIVMSG #facts :words from bob") && !$0.names.isEmpty
            }
        }
        let (replay, names) = seen.withLock { $0 }
        let namesText = names.joined(separator: " ")
        #expect(namesText.contains("alicia"), "\(names)")
        #expect(namesText.contains("robert"), "\(names)")
        #expect(!namesText.contains("bob"), "\(names)")
        func author(of text: String) -> String? {
            replay.first { $0.hasSuffix(":\(text)") }.map { String($0.dropFirst().prefix { $0 != "!" }) }
        }
        #expect(author(of: "first words as alice") == "alice", "\(replay)")
        #expect(author(of: "then words as alicia") == "alicia", "\(replay)")
        #expect(author(of: "words from bob") == "bob", "\(replay)")

        // A newcomer takes the nick "alicia" on a gateway of its own, talks there, then meets C: on C the real
        // alicia keeps the nick and the newcomer is the one disambiguated, live and in history.
        let (d, dIRC, _) = try await GatewayProcess.start(directory: root.appendingPathComponent("d"))
        processes.append(d)
        let mallory = try await LineClient.connect(port: dIRC, group: group)
        clients.append(mallory)
        try await ThreeGatewayProcessTests.register(mallory, "alicia", channel: "#facts")
        try await mallory.send("PRIVMSG #facts :I am the real alicia")
        try await mallory.send("PRIVMSG PearServ :connect 127.0.0.1:\(cPeer)")
        let impostorLine = try await carol.waitFor(containing: "I am the real alicia", timeout: .seconds(30))
        #expect(impostorLine.hasPrefix(":alicia|"), "\(impostorLine)")
        try await alice.send("PRIVMSG #facts :still the first alicia")
        let realLine = try await carol.waitFor(containing: "still the first alicia", timeout: .seconds(30))
        #expect(realLine.hasPrefix(":alicia!"), "\(realLine)")
        try await carol.send("NAMES #facts")
        let namesAfter = try await carol.waitFor(containing: " 353 carol ", timeout: .seconds(30))
        #expect(namesAfter.contains(" alicia ") || namesAfter.hasSuffix(" alicia") || namesAfter.contains(":alicia "), "\(namesAfter)")
        #expect(namesAfter.contains("alicia|"), "\(namesAfter)")

        for client in clients { await client.close() }
        for process in processes { await process.stop() }
        try await group.shutdownGracefully()
    }
}
