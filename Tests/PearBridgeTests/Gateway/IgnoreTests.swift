import Foundation
import HyperLog
import IRCServer
import Logging
import Sodium
import Testing

@testable import PearBridge

/// `/msg PearServ ignore`: a person's lines are hidden here, live and in history, until `unignore`; the list is kept
/// across restarts; a nick naming two people, or nobody, is explained instead of guessed.
@Suite(.serialized) struct IgnoreTests {
    static func saw(_ recorder: EventRecorder, _ text: String) -> Bool {
        recorder.seen.withLock { events in
            events.contains { if case .remoteMessage(_, _, _, let body, _, _, _) = $0 { body == text } else { false } }
        }
    }

    @Test func ignoredPeopleAreHiddenLiveAndInHistoryUntilUnignored() async throws {
        let a = try await TestGateway.make("ign-a"), b = try await TestGateway.make("ign-b")
        defer { a.cleanUp(); b.cleanUp() }
        await a.handle(.joined(channel: "#i", nick: "alice"))
        await b.handle(.joined(channel: "#i", nick: "bob"))
        await link(a, b)
        await b.say("#i", "before ignoring", as: "bob")
        try await a.recorder.message("before ignoring")
        let service = PearServ(gateway: a.gateway, connector: nil)
        let bobID = ZBase32.encode(b.gateway.identity.keyPair.publicKey)

        let ignored = await service.handle("ignore Bob")
        #expect(ignored == ["You now ignore Bob: their lines are hidden here (\(bobID))."])
        #expect(await service.handle("ignore bob") == ["You already ignore bob."])
        #expect(await historyTexts(a, "#i").contains("before ignoring") == false)

        await b.say("#i", "while ignored", as: "bob")
        try await waitUntil("a holds bob's new line") { await a.gateway.allLines(room: "#i").contains { $0.text == "while ignored" } }
        #expect(!Self.saw(a.recorder, "while ignored"))
        #expect(await service.handle("ignores") == ["You ignore 1 person(s):", "  bob  \(bobID)"])

        #expect(await service.handle("unignore \(bobID)") == ["You no longer ignore bob: their lines show again, history included."])
        let history = await historyTexts(a, "#i")
        #expect(history.contains("before ignoring") && history.contains("while ignored"))
        await b.say("#i", "after unignoring", as: "bob")
        try await a.recorder.message("after unignoring")
        #expect(await service.handle("ignores") == ["You ignore nobody."])
        #expect(await service.handle("unignore bob") == ["You were not ignoring bob."])
    }

    @Test func theListSurvivesARestartAndUnclearTargetsAreExplained() async throws {
        let a = try await TestGateway.make("ign2-a"), b = try await TestGateway.make("ign2-b"), c = try await TestGateway.make("ign2-c")
        defer { a.cleanUp(); b.cleanUp(); c.cleanUp() }
        // Two different people called bob, in two rooms.
        await a.handle(.joined(channel: "#one", nick: "alice"))
        await a.handle(.joined(channel: "#two", nick: "alice"))
        await b.handle(.joined(channel: "#one", nick: "bob"))
        await c.handle(.joined(channel: "#two", nick: "bob"))
        await link(a, b)
        await link(a, c)
        await b.say("#one", "bob one", as: "bob")
        await c.say("#two", "bob two", as: "bob")
        try await a.recorder.message("bob one")
        try await a.recorder.message("bob two")
        let service = PearServ(gateway: a.gateway, connector: nil)
        let answer = await service.handle("ignore bob")
        #expect(answer.first == "bob names 2 people here; say which by key:" && answer.count == 3)
        #expect(await service.handle("ignore nobody-here") == ["No one called nobody-here is in your rooms; give their key instead (/whois shows it)."])
        #expect(await service.handle("ignore") == ["Usage: ignore NICK|KEY"])
        let cID = ZBase32.encode(c.gateway.identity.keyPair.publicKey)
        #expect(await service.handle("ignore \(cID)").first?.hasPrefix("You now ignore bob") == true)

        await a.stop()
        let again = try await TestGateway.make("ign2-a", directory: a.directory)
        defer { again.gateway.shutdown() }
        #expect(again.gateway.ignores.all(of: again.gateway.identity.keyPair.publicKey) == [cID])
        #expect(await historyTexts(again, "#two").contains("bob two") == false)
        #expect(await historyTexts(again, "#one").contains("bob one"))
    }

    /// Each person of a gateway has their own ignore list: a line of someone one of them ignores is hidden from that
    /// person's clients only (the IRC core is told whose), and from their history only.
    @Test func eachPersonOfAGatewayIgnoresForThemselves() async throws {
        let a = try await TestGateway.make("ign-people-a"), c = try await TestGateway.make("ign-people-c")
        defer { a.cleanUp(); c.cleanUp() }
        let (database, file) = try AccountDatabaseTests.database()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try database.add(AccountName("root"), password: Array("root-pw".utf8), role: .admin, identity: a.gateway.identity.keyPair)
        let ursula = Ed25519.randomKeyPair()
        try database.add(AccountName("ursula"), password: Array("ursula-pw".utf8), role: .user, identity: ursula)
        let logins = AccountLogins(database: database, logger: Logger(label: "test"))
        let backend = GatewayBackend(gateway: a.gateway, connector: nil, logins: logins)
        let recorder = EventRecorder(backend)
        a.gateway.addPerson(ursula)
        await backend.handle(.joined(channel: "#i", nick: "root"), account: "root")
        await backend.handle(.joined(channel: "#i", nick: "ursula"), account: "ursula")
        await c.handle(.joined(channel: "#i", nick: "carol"))
        await link(a, c)
        await c.say("#i", "first", as: "carol")
        try await recorder.message("first")
        #expect(await backend.service(PearServ.name, from: "ursula", account: "ursula", text: "ignore carol")?.first?
            .hasPrefix("You now ignore carol") == true)
        #expect(logins.people.person(of: "ursula") != nil)
        #expect(await backend.service(PearServ.name, from: "root", account: "root", text: "ignores") == ["You ignore nobody."])

        await c.say("#i", "second", as: "carol")
        let second = try await recorder.message("second")
        guard case .remoteMessage(_, _, _, _, _, _, let hiddenFrom) = second else { return }
        #expect(hiddenFrom == ["ursula"])
        let forUrsula = await backend.history(.latest(channel: "#i", limit: 10), account: "ursula").map(\.text)
        let forRoot = await backend.history(.latest(channel: "#i", limit: 10), account: "root").map(\.text)
        #expect(forRoot == ["first", "second"] && forUrsula.isEmpty)

        // Kept across a restart, per person; a file from before (a list) is the first person's.
        let lists = try IgnoreList(file: a.directory.file("ignores.json"), firstPerson: a.gateway.identity.keyPair.publicKey)
        #expect(lists.all(of: ursula.publicKey) == [ZBase32.encode(c.gateway.identity.keyPair.publicKey)])
        #expect(lists.all(of: a.gateway.identity.keyPair.publicKey).isEmpty)
        let old = a.directory.file("old-ignores.json")
        try JSONEncoder().encode(["someone"]).write(to: old)
        let migrated = try IgnoreList(file: old, firstPerson: ursula.publicKey)
        #expect(migrated.all(of: ursula.publicKey) == ["someone"] && migrated.contains("someone", by: ursula.publicKey))
    }
}
