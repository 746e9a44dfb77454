import Foundation
import NIOPosix
import TestVectors
import Testing

/// Two accounts of one gateway, each logged in with an IRC client: two people in the rooms (issue 20). Another
/// gateway's user sees each under their own nick and identity; a private message to one of them reaches that person's
/// clients only; each keeps what was written after a restart.
@Suite(.serialized) struct SeveralPeopleProcessTests {
    static func logIn(port: Int, group: MultiThreadedEventLoopGroup, _ account: String, _ password: String) async throws -> LineClient {
        let client = try await LineClient.connect(port: port, group: group)
        try await client.send("PASS \(account):\(password)")
        try await client.send("NICK \(account)")
        try await client.send("USER \(account) 0 * :\(account)")
        try await client.waitFor(containing: " 001 \(account) ", timeout: .seconds(20))
        return client
    }

    @Test func twoAccountsOfOneGatewayAreTwoPeopleElsewhere() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-people-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let dataA = ["--data-dir", base.appendingPathComponent("a").path]
        for (name, password) in [("alice", "alice-pw"), ("bob", "bob-pw")] {
            let added = try await AccountCommandTests.run(["account", "add", name] + dataA, input: "\(password)\n")
            #expect(added.status == 0, "\(added.output)")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (a, ircA, peerA) = try await GatewayProcess.start(directory: base.appendingPathComponent("a"))
        let (b, ircB, _) = try await GatewayProcess.start(directory: base.appendingPathComponent("b"), peers: [peerA])

        let alice = try await Self.logIn(port: ircA, group: group, "alice", "alice-pw")
        let bob = try await Self.logIn(port: ircA, group: group, "bob", "bob-pw")
        let carol = try await LineClient.connect(port: ircB, group: group)
        try await SwarmRoomProcessTests.register(carol, "carol")
        for (client, nick) in [(alice, "alice"), (bob, "bob"), (carol, "carol")] {
            try await SwarmRoomProcessTests.join(client, nick, "#team")
        }
        // On their own gateway they are two local users, as on any IRC server.
        try await alice.waitFor(containing: ":bob!~bob@127.0.0.1 JOIN #team")

        try await alice.send("PRIVMSG #team :alice here")
        try await bob.send("PRIVMSG #team :bob here")
        // Elsewhere: two people, each with their own identity's host.
        let fromAlice = try await carol.waitFor(containing: "PRIVMSG #team :alice here", timeout: .seconds(30))
        let fromBob = try await carol.waitFor(containing: "PRIVMSG #team :bob here", timeout: .seconds(30))
        #expect(fromAlice.contains(":alice!pear@") && fromBob.contains(":bob!pear@"), "\(fromAlice) / \(fromBob)")
        let host = { (line: String) in line.split(separator: " ").first { $0.hasPrefix(":") }?.split(separator: "@").last }
        #expect(host(fromAlice) != host(fromBob))

        // A private message to bob reaches bob's client only; one to alice, alice's.
        try await carol.send("PRIVMSG bob :psst, bob")
        try await bob.waitFor(containing: ":carol!pear@", timeout: .seconds(30))
        try await carol.send("PRIVMSG alice :hello alice")
        try await alice.waitFor(containing: "PRIVMSG alice :hello alice", timeout: .seconds(30))
        try await bob.send("PING after")
        try await bob.waitFor(containing: "PONG")
        #expect(!alice.takeLines().contains { $0.contains("psst") })
        #expect(!bob.takeLines().contains { $0.contains("hello alice") })
        // Answers go back as the person who writes them.
        try await bob.send("PRIVMSG carol :hi carol, bob here")
        try await carol.waitFor(containing: ":bob!pear@", timeout: .seconds(30))

        for client in [alice, bob, carol] { await client.close() }
        await a.stop()
        await b.stop()
        try await group.shutdownGracefully()
    }

    /// Self-registration (IRCv3 `REGISTER`), closed until an admin opens it: then a newcomer makes an account before
    /// connecting, is logged in to it, and is a person of their own; closed again, no one can.
    @Test func anAdminOpensSelfRegistrationAndANewcomerRegisters() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-register-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.path]
        let added = try await AccountCommandTests.run(["account", "add", "root"] + data, input: "root-pw\n")
        #expect(added.status == 0, "\(added.output)")
        let shown = try await AccountCommandTests.run(["account", "registration"] + data)
        #expect(shown.status == 0 && shown.output.contains("registration is closed"), "\(shown.output)")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (gateway, irc, _) = try await GatewayProcess.start(directory: directory)

        let early = try await LineClient.connect(port: irc, group: group)
        try await early.send("CAP LS 302")
        let caps = try await early.waitFor(containing: " CAP * LS ")
        #expect(!caps.contains("account-registration"), "closed: not offered")
        try await early.send("REGISTER dave * dave-password")
        try await early.waitFor(containing: "FAIL REGISTER TEMPORARILY_UNAVAILABLE dave ")
        await early.close()

        let root = try await Self.logIn(port: irc, group: group, "root", "root-pw")
        try await root.send("PRIVMSG PearServ :account registration open")
        try await root.waitFor(containing: "Registration is open")

        let dave = try await LineClient.connect(port: irc, group: group)
        try await dave.send("CAP LS 302")
        try await dave.waitFor(containing: "draft/account-registration=before-connect,custom-account-name")
        try await dave.send("REGISTER dave * dave-password")
        try await dave.waitFor(containing: "REGISTER SUCCESS dave ")
        try await dave.send("CAP END")
        try await dave.send("NICK dave")
        try await dave.send("USER dave 0 * :dave")
        try await dave.waitFor(containing: " 001 dave ")
        // A user, not an admin, and a person of their own.
        try await dave.send("PRIVMSG PearServ :identity")
        let daveKey = try await dave.waitFor(containing: "Your public key: ")
        try await root.send("PRIVMSG PearServ :identity")
        let rootKey = try await root.waitFor(containing: "Your public key: ")
        #expect(daveKey.split(separator: " ").last != rootKey.split(separator: " ").last)
        try await dave.send("PRIVMSG PearServ :account list")
        try await dave.waitFor(containing: "admin")
        try await root.send("PRIVMSG PearServ :account list")
        try await root.waitFor(containing: "2 account(s):")
        try await SwarmRoomProcessTests.join(root, "root", "#newcomers")
        try await SwarmRoomProcessTests.join(dave, "dave", "#newcomers")
        try await dave.send("PRIVMSG #newcomers :hello, I made my own account")
        try await root.waitFor(containing: ":dave!~dave@127.0.0.1 PRIVMSG #newcomers :hello, I made my own account")

        // Closed again: the next newcomer is told so; dave's account stays.
        let closed = try await AccountCommandTests.run(["account", "registration", "closed"] + data)
        #expect(closed.status == 0 && closed.output.contains("registration is closed"), "\(closed.output)")
        try await root.send("PRIVMSG PearServ :account registration")
        try await root.waitFor(containing: "Registration is closed")
        let late = try await LineClient.connect(port: irc, group: group)
        try await late.send("REGISTER erin * erin-password")
        try await late.waitFor(containing: "FAIL REGISTER TEMPORARILY_UNAVAILABLE erin ")

        for client in [root, dave, late] { await client.close() }
        await gateway.stop()
        try await group.shutdownGracefully()
    }
}
