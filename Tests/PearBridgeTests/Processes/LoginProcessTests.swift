import Foundation
import NIOPosix
import TestVectors
import Testing

/// Logging in to a gateway, as IRC clients do it (issue 20): without accounts, the gateway serves one user on loopback
/// with no login, and refuses to listen beyond loopback; from the first account on (added with the CLI while it runs),
/// every connection logs in, by PASS or SASL PLAIN, and the admin is an IRC operator; two clients of the account are
/// one person.
@Suite(.serialized) struct LoginProcessTests {
    @Test func fromTheFirstAccountOnEveryConnectionLogsIn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-login-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = ["--data-dir", directory.path]

        let exposed = try await AccountCommandTests.run(["run", "--host", "0.0.0.0", "--port", "0", "--no-tls", "--no-dht", "--no-peer-listener"] + data)
        #expect(exposed.status != 0 && exposed.output.contains("pearircd account add"), "\(exposed.output)")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (gateway, irc, _) = try await GatewayProcess.start(directory: directory)
        let before = try await LineClient.connect(port: irc, group: group)
        try await SwarmRoomProcessTests.register(before, "owner")

        let added = try await AccountCommandTests.run(["account", "add", "root"] + data, input: "root-pw\n")
        #expect(added.status == 0, "\(added.output)")

        let anonymous = try await LineClient.connect(port: irc, group: group)
        try await anonymous.send("NICK someone")
        try await anonymous.send("USER someone 0 * :someone")
        try await anonymous.waitFor(containing: " 464 someone :This server needs you to log in")
        try await anonymous.waitUntilClosed()

        let wrong = try await LineClient.connect(port: irc, group: group)
        try await wrong.send("PASS root:guess")
        try await wrong.send("NICK guesser")
        try await wrong.send("USER guesser 0 * :guesser")
        try await wrong.waitFor(containing: " 464 guesser :Password incorrect")
        try await wrong.waitUntilClosed()

        let byPass = try await LineClient.connect(port: irc, group: group)
        try await byPass.send("PASS root:root-pw")
        try await byPass.send("NICK root")
        try await byPass.send("USER root 0 * :root")
        try await byPass.waitFor(containing: " 900 root ")
        try await byPass.waitFor(containing: " 001 root ")
        try await byPass.waitFor(containing: " 381 root ")
        try await byPass.send("PRIVMSG PearServ :account list")
        try await byPass.waitFor(containing: "1 account(s):")
        try await byPass.send("JOIN #home")
        try await byPass.waitFor(containing: " 366 root #home ")

        let bySASL = try await LineClient.connect(port: irc, group: group)
        try await bySASL.send("CAP LS 302")
        try await bySASL.send("CAP REQ sasl")
        try await bySASL.send("AUTHENTICATE PLAIN")
        try await bySASL.waitFor(containing: "AUTHENTICATE +")
        try await bySASL.send("AUTHENTICATE \(Data("\0root\0root-pw".utf8).base64EncodedString())")
        try await bySASL.waitFor(containing: " 903 ")
        try await bySASL.send("CAP END")
        try await bySASL.send("NICK phone")
        try await bySASL.send("USER phone 0 * :phone")
        // A second client of the account is the same person: welcomed under its nick, in its rooms, shown its lines.
        try await bySASL.waitFor(containing: " 001 root ")
        try await bySASL.waitFor(containing: ":root!~root@127.0.0.1 JOIN #home")
        try await byPass.send("PRIVMSG #home :from the laptop")
        try await bySASL.waitFor(containing: ":root!~root@127.0.0.1 PRIVMSG #home :from the laptop")
        try await bySASL.send("PRIVMSG #home :from the phone")
        try await byPass.waitFor(containing: ":root!~root@127.0.0.1 PRIVMSG #home :from the phone")
        // The phone goes; a line is said; a client connecting later is given the lines since then.
        try await bySASL.send("QUIT")
        try await bySASL.waitUntilClosed()
        try await byPass.send("PRIVMSG #home :while you were out")
        try await byPass.send("PING stored")
        try await byPass.waitFor(containing: "PONG")
        let later = try await LineClient.connect(port: irc, group: group)
        try await later.send("PASS root:root-pw")
        try await later.send("NICK later")
        try await later.send("USER later 0 * :later")
        try await later.waitFor(containing: ":root!~root@127.0.0.1 JOIN #home")
        try await later.waitFor(containing: "PRIVMSG #home :while you were out")

        // Account changes from the command line reach the clients already logged in: demoted, root stops being an
        // operator on both; disabled, both are closed.
        let second = try await AccountCommandTests.run(["account", "add", "second", "--admin"] + data, input: "second-pw\n")
        #expect(second.status == 0, "\(second.output)")
        let demoted = try await AccountCommandTests.run(["account", "role", "root", "user"] + data)
        #expect(demoted.status == 0, "\(demoted.output)")
        try await byPass.waitFor(containing: "MODE root -ow")
        try await later.waitFor(containing: "MODE root -ow")
        let disabled = try await AccountCommandTests.run(["account", "disable", "root"] + data)
        #expect(disabled.status == 0, "\(disabled.output)")
        try await byPass.waitFor(containing: "disabled or removed")
        try await byPass.waitUntilClosed()
        try await later.waitUntilClosed()

        for client in [before, byPass, later] { await client.close() }
        await gateway.stop()
        try await group.shutdownGracefully()
    }
}
