import Foundation
import HyperLog
import IRCServer
import Logging
@testable import PearBridge
import SwarmEngine
import Synchronization
import Sodium
import Testing

/// Collects a gateway's backend events so tests can wait for one: a waiter is resumed by the event itself, or by
/// its timeout.
final class EventRecorder: Sendable {
    struct Timeout: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    private struct Waiter {
        let predicate: @Sendable (BackendEvent) -> Bool
        let continuation: CheckedContinuation<BackendEvent?, Never>
    }

    let seen = Mutex<[BackendEvent]>([])
    /// Taken before `seen` by both the recorder and a new waiter, so no event slips between a look and a wait.
    private let waiters = Mutex<[UInt64: Waiter]>([:])
    private let nextWaiter = Atomic<UInt64>(0)

    init(_ backend: GatewayBackend) {
        let events = backend.events
        Task { [weak self] in
            for await event in events {
                guard let self else { return }
                self.record(event)
            }
        }
    }

    private func record(_ event: BackendEvent) {
        let matched = waiters.withLock { waiters -> [Waiter] in
            seen.withLock { $0.append(event) }
            let ids = waiters.filter { $0.value.predicate(event) }.map(\.key)
            return ids.compactMap { waiters.removeValue(forKey: $0) }
        }
        for waiter in matched { waiter.continuation.resume(returning: event) }
    }

    @discardableResult
    func waitFor(_ what: String, timeout: Duration = .seconds(20), _ predicate: @escaping @Sendable (BackendEvent) -> Bool) async throws
        -> BackendEvent
    {
        let id = nextWaiter.add(1, ordering: .relaxed).newValue
        let found = await withTaskGroup(of: BackendEvent?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let already = self.waiters.withLock { waiters -> BackendEvent? in
                        if let event = self.seen.withLock({ $0.first(where: predicate) }) { return event }
                        waiters[id] = Waiter(predicate: predicate, continuation: continuation)
                        return nil
                    }
                    if let already { continuation.resume(returning: already) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                // Whoever removes the waiter resumes it: here, with nothing.
                self.waiters.withLock { $0.removeValue(forKey: id) }?.continuation.resume(returning: nil)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            // The event came first: the timer's removal finds nothing; make sure nothing is left registered.
            self.waiters.withLock { $0.removeValue(forKey: id) }?.continuation.resume(returning: nil)
            return first
        }
        guard let found else { throw Timeout(what: what) }
        return found
    }

    func message(_ text: String, timeout: Duration = .seconds(20)) async throws -> BackendEvent {
        try await waitFor("message \(text)", timeout: timeout) {
            if case .remoteMessage(_, _, _, let body, _, _, _) = $0 { body == text } else { false }
        }
    }
}

/// A gateway in its own temporary data directory, running, seen through its IRC adapter.
struct TestGateway {
    let directory: DataDirectory
    let gateway: Gateway
    let backend: GatewayBackend
    let recorder: EventRecorder
    let runner: Task<Void, Never>

    /// `people`: whom the gateway speaks for besides its first person (as a gateway's accounts).
    static func make(_ name: String, directory: DataDirectory? = nil, people: [Ed25519.KeyPair] = []) async throws -> TestGateway {
        let directory = directory ?? DataDirectory(
            url: FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-gw-\(name)-\(UUID().uuidString)"))
        let identity = try Identity.loadOrCreate(in: directory)
        var logger = Logger(label: "test.\(name)")
        logger.logLevel = .warning
        let gateway = try Gateway(directory: directory, identity: identity, people: people, logger: logger)
        let runner = Task { _ = try? await gateway.run() }
        let backend = GatewayBackend(gateway: gateway, connector: nil)
        return TestGateway(directory: directory, gateway: gateway, backend: backend, recorder: EventRecorder(backend), runner: runner)
    }

    /// As the IRC adapter would, but waiting until the request is recorded (lines included), so tests can look.
    func handle(_ request: BackendRequest) async {
        guard let request = GatewayBackend.gatewayRequest(for: request) else { return }
        await gateway.handle(request)
    }

    func history(_ query: HistoryQuery) async -> [ChatLine] {
        await backend.history(query)
    }

    func say(_ channel: String, _ text: String, as nick: String) async {
        await handle(
            .message(channel: channel, nick: nick, kind: .privmsg, text: text, id: "m\(UUID().uuidString.prefix(8))", time: Date()))
    }

    /// Stops the gateway as a shutdown would and waits until it has closed its store.
    func stop() async {
        gateway.shutdown()
        await runner.value
    }

    func cleanUp() {
        gateway.shutdown()
        try? FileManager.default.removeItem(at: directory.url)
    }
}

/// Connects two gateways back to back, each under a transport key of its own (as `pearircd` runs them: never its
/// person's identity), and returns once each has proven its person to the other (`PeopleWire`), or after ten seconds;
/// returns the endpoints so a test can cut the link.
@discardableResult
func link(_ a: TestGateway, _ b: TestGateway) async -> (InMemoryPeerLink.Endpoint, InMemoryPeerLink.Endpoint) {
    let (x, y) = InMemoryPeerLink.pair(initiatorKey: RandomBytes.generate(count: 32), responderKey: RandomBytes.generate(count: 32))
    await a.gateway.attach(x, events: x.events)
    await b.gateway.attach(y, events: y.events)
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline,
        !a.gateway.isConnected(b.gateway.identity.keyPair.publicKey) || !b.gateway.isConnected(a.gateway.identity.keyPair.publicKey)
    {
        try? await Task.sleep(for: .milliseconds(2))
    }
    return (x, y)
}

func historyTexts(_ gateway: TestGateway, _ channel: String) async -> [String] {
    await gateway.history(.latest(channel: channel, limit: 100)).map(\.text)
}

func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw EventRecorder.Timeout(what: what)
}

@Suite(.serialized) struct GatewayTests {
    @Test func threeGatewaysInALineChatBothWays() async throws {
        let a = try await TestGateway.make("a"), b = try await TestGateway.make("b"), c = try await TestGateway.make("c")
        defer { a.cleanUp(); b.cleanUp(); c.cleanUp() }
        await a.handle(.joined(channel: "#room", nick: "alice"))
        await b.handle(.joined(channel: "#Room", nick: "bob"))
        await c.handle(.joined(channel: "#ROOM", nick: "carol"))
        await link(a, b)
        await link(b, c)

        await a.say("#room", "hello from A", as: "alice")
        let atC = try await c.recorder.message("hello from A")
        guard case .remoteMessage(let channel, _, .privmsg, _, let id, _, _) = atC else { return }
        #expect(channel == "#ROOM", "shown in the channel as the local user joined it")
        #expect(!id.isEmpty)
        // C learned A's nick from A's nick entry, through B.
        try await c.recorder.waitFor("alice joined") {
            if case .remoteJoined(_, let user) = $0 { user.nick == "alice" } else { false }
        }

        await c.say("#room", "hello from C", as: "carol")
        try await a.recorder.message("hello from C")
        await b.say("#room", "\u{1}ACTION waves\u{1}", as: "bob")
        try await a.recorder.message("\u{1}ACTION waves\u{1}")
        try await c.recorder.message("\u{1}ACTION waves\u{1}")

        // Nick change on A shows up on C.
        await a.handle(.nickChanged(old: "alice", new: "alicia"))
        try await c.recorder.waitFor("nick change") {
            if case .remoteNick(_, "alicia") = $0 { true } else { false }
        }

        // Every gateway ends up with the same history in the same order.
        try await waitUntil("histories agree") {
            let histories = [await historyTexts(a, "#room"), await historyTexts(b, "#room"), await historyTexts(c, "#room")]
            return histories[0].count == 3 && histories.allSatisfy { $0 == histories[0] }
        }
        let ids = await a.history(.latest(channel: "#room", limit: 10)).map(\.id)
        #expect(await c.history(.latest(channel: "#room", limit: 10)).map(\.id) == ids)
        // The msgid the sender's IRC core gave the line (in the sender's namespace) is the one every gateway shows.
        let ownID = RoomState.messageIDNamespace(for: a.gateway.identity.keyPair.publicKey) + "abc-123"
        await a.handle(
            .message(channel: "#room", nick: "alicia", kind: .privmsg, text: "with an id", id: ownID, time: Date()))
        let tagged = try await c.recorder.message("with an id")
        guard case .remoteMessage(_, _, _, _, let seenID, _, _) = tagged else { return }
        #expect(seenID == ownID)
        #expect(await a.history(.latest(channel: "#room", limit: 1)).first?.id == ownID)
    }

    /// One person in two rooms is one IRC user: both rooms' writer logs prove the same identity, so the other
    /// gateway reports the same user id, nick and host for both channels (not `alice` and a second `alice`).
    @Test func onePersonInTwoRoomsIsOneUser() async throws {
        let a = try await TestGateway.make("id-a"), b = try await TestGateway.make("id-b")
        defer { a.cleanUp(); b.cleanUp() }
        for channel in ["#one", "#two"] {
            await a.handle(.joined(channel: channel, nick: "alice"))
            await b.handle(.joined(channel: channel, nick: "bob"))
        }
        await link(a, b)
        await a.say("#one", "in one", as: "alice")
        await a.say("#two", "in two", as: "alice")
        try await b.recorder.message("in one")
        try await b.recorder.message("in two")
        let joins = b.recorder.seen.withLock { events in
            events.compactMap { event -> (String, RemoteUser)? in
                if case .remoteJoined(let channel, let user) = event { (channel, user) } else { nil }
            }
        }
        let users = Dictionary(joins.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        let one = try #require(users["#one"]), two = try #require(users["#two"])
        #expect(one.id == ZBase32.encode(a.gateway.identity.keyPair.publicKey))
        #expect(one.id == two.id && one.nick == "alice" && two.nick == "alice" && one.host == two.host)
        #expect(one.whoisInfo.first == "identity \(one.id)")
        let messages = b.recorder.seen.withLock { events in
            events.compactMap { event -> String? in
                if case .remoteMessage(_, let userID, _, _, _, _, _) = event { userID } else { nil }
            }
        }
        #expect(Set(messages) == [one.id])
    }

    /// A peer whose hello claims someone else's writer key and then hangs up does not make that person leave:
    /// only a writer whose log proved the connection's own identity leaves with the connection.
    @Test func aSpoofedHelloCannotMakeSomeoneLeave() async throws {
        let observer = try await TestGateway.make("spoof-o"), victim = try await TestGateway.make("spoof-v")
        defer { observer.cleanUp(); victim.cleanUp() }
        await observer.handle(.joined(channel: "#a", nick: "olga"))
        await victim.handle(.joined(channel: "#a", nick: "vic"))
        await link(observer, victim)
        await victim.say("#a", "before the spoof", as: "vic")
        try await observer.recorder.message("before the spoof")
        let victimWriter = try #require(await victim.gateway.ownWriter(channel: "#a"))
        let (x, y) = InMemoryPeerLink.pair(
            initiatorKey: RandomBytes.generate(count: 32), responderKey: observer.gateway.identity.keyPair.publicKey)
        _ = await observer.gateway.attach(y, events: y.events)
        x.open(
            protocol: RoomWire.protocolName, id: RoomTopic(foldedChannelName: "#a").bytes,
            handshake: RoomWire.Hello(ownWriter: victimWriter).compactEncoded())
        try await waitUntil("the spoofer is connected") { await observer.gateway.peers.count == 2 }
        x.disconnect()
        try await waitUntil("the spoofer is gone") { await observer.gateway.peers.count == 1 }
        await victim.say("#a", "after the spoof", as: "vic")
        try await observer.recorder.message("after the spoof")
        let victimID = ZBase32.encode(victim.gateway.identity.keyPair.publicKey)
        let departures = observer.recorder.seen.withLock { events in
            events.filter { event in
                switch event {
                case .remoteParted(_, let id, _), .remoteQuit(let id, _): id == victimID
                default: false
                }
            }
        }
        #expect(departures.isEmpty)
    }

    /// History shows each line under the nick its author had when writing it: our own earlier lines are not renamed
    /// after whoever uses the gateway now, and a remote author's old lines keep their old nick.
    @Test func historyKeepsTheNickAtTheTimeOfWriting() async throws {
        let a = try await TestGateway.make("hist-a"), b = try await TestGateway.make("hist-b")
        defer { a.cleanUp(); b.cleanUp() }
        await a.handle(.joined(channel: "#h", nick: "weeb"))
        await b.handle(.joined(channel: "#h", nick: "bob"))
        await link(a, b)
        await a.say("#h", "written by weeb", as: "weeb")
        // Bob answers after seeing it, so his line comes after it in every history.
        try await b.recorder.message("written by weeb")
        await b.say("#h", "written by bob", as: "bob")
        try await a.recorder.message("written by bob")
        await b.handle(.nickChanged(old: "bob", new: "robert"))
        try await a.recorder.waitFor("bob renamed") { if case .remoteNick(_, "robert") = $0 { true } else { false } }
        // A new client on A, with another nick.
        await a.handle(.joined(channel: "#h", nick: "watcher"))
        let sources = await a.history(.latest(channel: "#h", limit: 10)).map { "\($0.source.prefix { $0 != "!" }): \($0.text)" }
        #expect(sources == ["weeb: written by weeb", "bob: written by bob"])
    }

    /// A rooms.json that is not a catalogue (truncated, garbage) is reported and skipped: the gateway starts with no
    /// saved rooms and works, and saves a good catalogue again at the next change.
    @Test func aCorruptRoomCatalogueDoesNotStopTheGateway() async throws {
        let directory = DataDirectory(url: FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-badcat-\(UUID().uuidString)"))
        try directory.prepare()
        try Data("[{\"channel\": \"#x\", \"joi".utf8).write(to: directory.file("rooms.json"))
        let a = try await TestGateway.make("badcat", directory: directory)
        defer { a.cleanUp() }
        await a.gateway.ready()
        #expect(await a.gateway.ownWriter(channel: "#x") == nil)
        await a.handle(.joined(channel: "#fresh", nick: "alice"))
        #expect(await a.gateway.ownWriter(channel: "#fresh") != nil)
        let saved = try JSONDecoder().decode([RoomCatalogue.Room].self, from: Data(contentsOf: directory.file("rooms.json")))
        #expect(saved.map(\.channel) == ["#fresh"])
    }

    /// Asking for the history of a channel never joined answers nothing and creates nothing: no room, no log on disk.
    @Test func historyOfAnUnknownChannelCreatesNoRoom() async throws {
        let a = try await TestGateway.make("no-room")
        defer { a.cleanUp() }
        #expect(await a.history(.latest(channel: "#never", limit: 10)).isEmpty)
        #expect(await a.gateway.ownWriter(channel: "#never") == nil)
        #expect(await a.gateway.writerCount(channel: "#never") == nil)
        await a.stop()
        let store = try LogStore(directory: a.directory.file("store"))
        let keys = try await store.allKeys()
        #expect(keys.isEmpty, "no log was created")
    }

    /// The gateway's TARGETS: rooms with their latest line, in the window, earliest first; no private keys.
    @Test func targetsListRoomsByTheirLatestLine() async throws {
        let a = try await TestGateway.make("targets")
        defer { a.cleanUp() }
        let backend = a.backend
        for channel in ["#one", "#two", "#quiet"] { await a.handle(.joined(channel: channel, nick: "alice")) }
        let start = Date()
        await a.handle(.message(channel: "#two", nick: "alice", kind: .privmsg, text: "first", id: "x1", time: start))
        await a.handle(
            .message(channel: "#one", nick: "alice", kind: .privmsg, text: "second", id: "x2", time: start.addingTimeInterval(1)))
        let targets = await backend.historyTargets(HistoryTargetsQuery(
            channels: ["#one", "#two", "#quiet", PrivateConversation.key("account:a", "account:b")], participant: "account:a",
            from: start.addingTimeInterval(-10), to: start.addingTimeInterval(10), limit: 10))
        #expect(targets.map(\.name) == ["#two", "#one"])
    }

    @Test func aGatewayCatchesUpAfterARestart() async throws {
        let a = try await TestGateway.make("a2"), b = try await TestGateway.make("b2")
        var c = try await TestGateway.make("c2")
        defer { a.cleanUp(); b.cleanUp(); c.cleanUp() }
        for (gateway, nick) in [(a, "alice"), (b, "bob"), (c, "carol")] {
            await gateway.handle(.joined(channel: "#keep", nick: nick))
        }
        await link(a, b)
        let (toC, _) = await link(b, c)
        await a.say("#keep", "before the restart", as: "alice")
        try await c.recorder.message("before the restart")

        // C goes away; A and B keep talking.
        toC.disconnect()
        await c.stop()
        let directory = c.directory
        c = try await TestGateway.make("c2", directory: directory)
        await a.say("#keep", "while C was away", as: "alice")
        await b.say("#keep", "also while away", as: "bob")

        // C restarts from its data directory: it remembers the room and its writers, reconnects and catches up.
        await link(b, c)
        // A gets B's line over its own link, on its own time: both must have all three before they are compared.
        for gateway in [c, a] {
            try await waitUntil("caught up") {
                let texts = await historyTexts(gateway, "#keep")
                return texts.contains("while C was away") && texts.contains("also while away")
                    && texts.contains("before the restart")
            }
        }
        #expect(await historyTexts(c, "#keep") == (await historyTexts(a, "#keep")))
    }

    @Test func aPeerSendingForgedDataIsDisconnectedAndNothingIsStored() async throws {
        let honest = try await TestGateway.make("h"), victim = try await TestGateway.make("v")
        defer { honest.cleanUp(); victim.cleanUp() }
        await honest.handle(.joined(channel: "#safe", nick: "mallory"))
        await victim.handle(.joined(channel: "#safe", nick: "victor"))
        await honest.say("#safe", "genuine line", as: "mallory")

        // A man in the middle that rewrites every block the honest side sends.
        let (x, y) = InMemoryPeerLink.pair(
            initiatorKey: honest.gateway.identity.keyPair.publicKey, responderKey: victim.gateway.identity.keyPair.publicKey)
        let (tamperedStream, tamperedContinuation) = AsyncStream<PeerEvent>.makeStream()
        Task {
            for await event in y.events {
                if case .message(ReplicationMessage.protocolName, let id, 3, let bytes) = event,
                    var data = try? DataMessage(compactEncoded: bytes), data.block != nil
                {
                    data.block?.value = Array("forged line".utf8)
                    tamperedContinuation.yield(.message(protocol: ReplicationMessage.protocolName, id: id, type: 3, message: data.compactEncoded()))
                } else {
                    tamperedContinuation.yield(event)
                }
            }
            tamperedContinuation.finish()
        }
        await honest.gateway.attach(x, events: x.events)
        await victim.gateway.attach(y, events: tamperedStream)
        try await waitUntil("victim hangs up") { await victim.gateway.peers.isEmpty }
        let texts = await historyTexts(victim, "#safe")
        #expect(!texts.contains("forged line"))
        #expect(!texts.contains("genuine line"), "nothing from the forged session was shown")
    }
}

@Suite struct GossipFloodTests {
    /// A raw peer (no gateway behind it) that has opened `channel`'s room channel with `victim`.
    static func attacker(against victim: TestGateway, channel: String) async -> InMemoryPeerLink.Endpoint {
        let (x, y) = InMemoryPeerLink.pair(
            initiatorKey: RandomBytes.generate(count: 32), responderKey: victim.gateway.identity.keyPair.publicKey)
        _ = await victim.gateway.attach(y, events: y.events)
        x.open(
            protocol: RoomWire.protocolName, id: RoomTopic(foldedChannelName: channel).bytes,
            handshake: RoomWire.Hello(ownWriter: RandomBytes.generate(count: 32)).compactEncoded())
        return x
    }

    static func sendWriters(_ keys: [[UInt8]], on x: InMemoryPeerLink.Endpoint, channel: String) {
        x.send(
            protocol: RoomWire.protocolName, id: RoomTopic(foldedChannelName: channel).bytes, type: RoomWire.Writers.type,
            message: RoomWire.Writers(keys: keys).compactEncoded())
    }

    /// Channels the gateway will never answer are refused at once (the opener sees them closed): an unknown
    /// protocol, a malformed room id, and room opens beyond the pending limit. The connection stays up.
    @Test func unwantedChannelsAreRejected() async throws {
        let victim = try await TestGateway.make("reject")
        defer { victim.cleanUp() }
        let (x, y) = InMemoryPeerLink.pair(
            initiatorKey: RandomBytes.generate(count: 32), responderKey: victim.gateway.identity.keyPair.publicKey)
        _ = await victim.gateway.attach(y, events: y.events)
        var events = x.events.makeAsyncIterator()
        // The gateway's first word on a connection: whom it speaks for.
        guard case .opened(PeopleWire.protocolName, [], _) = await events.next() else {
            Issue.record("the gateway did not open pearirc/people/v1 first")
            return
        }
        x.open(protocol: "someone/else/v1", id: [1, 2], handshake: [])
        #expect(await events.next() == .closed(protocol: "someone/else/v1", id: [1, 2]))
        x.open(protocol: RoomWire.protocolName, id: [9, 9, 9], handshake: [])
        #expect(await events.next() == .closed(protocol: RoomWire.protocolName, id: [9, 9, 9]))
        // Rooms not joined here: kept unanswered up to the limit, refused after it.
        for index in 0..<Gateway.maximumPendingRoomOpens {
            x.open(protocol: RoomWire.protocolName, id: RoomTopic(foldedChannelName: "#pending\(index)").bytes, handshake: [])
        }
        let extra = RoomTopic(foldedChannelName: "#one-too-many").bytes
        x.open(protocol: RoomWire.protocolName, id: extra, handshake: [])
        #expect(await events.next() == .closed(protocol: RoomWire.protocolName, id: extra))
        #expect(await victim.gateway.peers.count == 1)
    }

    @Test func aPeerAnnouncingTooManyWritersIsDroppedAndTheRoomStaysBounded() async throws {
        let victim = try await TestGateway.make("flood-writers")
        defer { victim.cleanUp() }
        await victim.handle(.joined(channel: "#flood", nick: "victor"))
        let x = await Self.attacker(against: victim, channel: "#flood")
        for _ in 0..<5 {
            Self.sendWriters((0..<256).map { _ in RandomBytes.generate(count: 32) }, on: x, channel: "#flood")
        }
        try await waitUntil("victim hangs up", timeout: .seconds(60)) { await victim.gateway.peers.isEmpty }
        let count = try #require(await victim.gateway.writerCount(channel: "#flood"))
        #expect(count <= Gateway.maximumWritersPerRoom)
        #expect(count > 1, "writers up to the limit were accepted")
    }

    @Test func aPeerRepeatingStaleWriterListsIsDropped() async throws {
        let victim = try await TestGateway.make("flood-stale")
        defer { victim.cleanUp() }
        await victim.handle(.joined(channel: "#stale", nick: "victor"))
        let x = await Self.attacker(against: victim, channel: "#stale")
        let key = RandomBytes.generate(count: 32)
        // The first list teaches something; a handful of repeats is tolerated (gossip races)...
        for _ in 0..<10 { Self.sendWriters([key], on: x, channel: "#stale") }
        try await waitUntil("the writer is learnt") { await victim.gateway.writerCount(channel: "#stale") == 3 }
        #expect(await victim.gateway.peers.count == 1)
        // ...an endless stream of them is not.
        for _ in 0..<Gateway.maximumStaleWriterLists { Self.sendWriters([key], on: x, channel: "#stale") }
        try await waitUntil("victim hangs up") { await victim.gateway.peers.isEmpty }
    }
}

@Suite struct RemoteTextTests {
    @Test func longLinesAreSplitAndInjectionIsNeutralised() async throws {
        let a = try await TestGateway.make("split-a"), b = try await TestGateway.make("split-b")
        defer { a.cleanUp(); b.cleanUp() }
        await a.handle(.joined(channel: "#long", nick: "alice"))
        await b.handle(.joined(channel: "#long", nick: "bob"))
        await link(a, b)
        let long = (0..<120).map { "word\($0)" }.joined(separator: " ")  // ~800 bytes
        await a.say("#long", long + "\r\nQUIT :injected", as: "alice")
        try await waitUntil("split line arrives") {
            b.recorder.seen.withLock { events in
                events.filter { if case .remoteMessage = $0 { true } else { false } }.count >= 2
            }
        }
        let texts = b.recorder.seen.withLock { events in
            events.compactMap { event -> String? in
                if case .remoteMessage(_, _, _, let text, _, _, _) = event { return text }
                return nil
            }
        }
        #expect(texts.allSatisfy { $0.utf8.count <= 400 && !$0.contains("\r") && !$0.contains("\n") })
        #expect(texts.joined(separator: " ").contains("word0 word1"))
        #expect(texts.joined(separator: " ").hasSuffix("word119  QUIT :injected"))
    }
}

@Suite struct RoomChannelTests {
    /// Room-channel events (opens and messages of the room protocol) a raw peer received, in order.
    final class RoomEvents: Sendable {
        final class Log: Sendable {
            let events = Mutex<[PeerEvent]>([])
        }

        private let log = Log()
        private let reader: Task<Void, Never>

        init(_ endpoint: InMemoryPeerLink.Endpoint) {
            let log = self.log
            reader = Task {
                for await event in endpoint.events {
                    switch event {
                    case .opened(RoomWire.protocolName, _, _), .message(RoomWire.protocolName, _, _, _):
                        log.events.withLock { $0.append(event) }
                    default:
                        break
                    }
                }
            }
        }

        deinit { reader.cancel() }

        /// "open" and "writers" for each event so far.
        var kinds: [String] {
            log.events.withLock { events in
                events.map { event in
                    if case .message(_, _, RoomWire.Writers.type, _) = event { return "writers" }
                    if case .opened = event { return "open" }
                    return "other"
                }
            }
        }
    }

    /// The peer refuses our open of a core (its copy was not ready, as the Node reference does) and opens the core
    /// itself later: the gateway must answer that open with a fresh open of its own, not let a stale driver swallow it.
    @Test func aCoreThePeerRefusedIsOpenedAgainWhenThePeerOpensIt() async throws {
        let gateway = try await TestGateway.make("refused-core")
        defer { gateway.cleanUp() }
        await gateway.handle(.joined(channel: "#core", nick: "alice"))
        let own = try #require(await gateway.gateway.ownWriter(channel: "#core"))
        let discoveryKey = try DiscoveryKey.of(own)
        let (x, y) = InMemoryPeerLink.pair(
            initiatorKey: RandomBytes.generate(count: 32), responderKey: gateway.gateway.identity.keyPair.publicKey)
        final class Opens: Sendable { let count = Atomic(0) }
        let opens = Opens()
        let reader = Task {
            for await event in x.events {
                if case .opened(ReplicationMessage.protocolName, discoveryKey, _) = event { opens.count.add(1, ordering: .relaxed) }
            }
        }
        defer { reader.cancel() }
        _ = await gateway.gateway.attach(y, events: y.events)
        x.open(
            protocol: RoomWire.protocolName, id: RoomTopic(foldedChannelName: "#core").bytes,
            handshake: RoomWire.Hello(ownWriter: RandomBytes.generate(count: 32)).compactEncoded())
        try await waitUntil("the gateway opens its core") { opens.count.load(ordering: .relaxed) == 1 }
        x.reject(protocol: ReplicationMessage.protocolName, id: discoveryKey)
        // The peer's own open, with the capability this connection and key give the initiator.
        let capability = try ReplicationHandshake.capability(isInitiator: true, key: own, handshakeHash: x.handshakeHash)
        x.open(
            protocol: ReplicationMessage.protocolName, id: discoveryKey,
            handshake: ReplicationHandshake(capability: capability).compactEncoded())
        try await waitUntil("the gateway opens the core again") { opens.count.load(ordering: .relaxed) == 2 }
        #expect(await gateway.gateway.peers.count == 1, "the peer was not dropped")
    }

    /// A peer whose user parts a room closes its room channel, which closes it on both sides; when the user joins
    /// again the peer opens it anew, and the gateway must open its side again before it shares its writers (a
    /// message on a channel it has not opened would go nowhere, and the peer would never learn them).
    @Test func aPeerThatRejoinsARoomIsAnsweredAgain() async throws {
        let gateway = try await TestGateway.make("rejoin")
        defer { gateway.cleanUp() }
        await gateway.handle(.joined(channel: "#again", nick: "alice"))
        let (x, y) = InMemoryPeerLink.pair(
            initiatorKey: RandomBytes.generate(count: 32), responderKey: gateway.gateway.identity.keyPair.publicKey)
        let received = RoomEvents(x)
        _ = await gateway.gateway.attach(y, events: y.events)
        let room = RoomTopic(foldedChannelName: "#again").bytes
        let hello = RoomWire.Hello(ownWriter: RandomBytes.generate(count: 32)).compactEncoded()

        try await waitUntil("the gateway announces its room") { received.kinds == ["open"] }
        x.open(protocol: RoomWire.protocolName, id: room, handshake: hello)
        try await waitUntil("the gateway shares its writers") { received.kinds == ["open", "writers"] }

        x.close(protocol: RoomWire.protocolName, id: room)
        x.open(protocol: RoomWire.protocolName, id: room, handshake: hello)
        try await waitUntil("the gateway opens the room again and shares its writers again") {
            received.kinds == ["open", "writers", "open", "writers"]
        }
    }
}

@Suite struct GatewayDiscoveryTests {
    /// Remembers what the gateway asked discovery to do.
    final class RecordingDiscovery: PeerDiscovery {
        let calls = Mutex<[String]>([])
        let candidates = AsyncStream<PeerCandidate> { $0.finish() }

        func join(topic: [UInt8]) async { calls.withLock { $0.append("join \(ZBase32.encode(topic).prefix(6))") } }
        func leave(topic: [UInt8]) async { calls.withLock { $0.append("leave \(ZBase32.encode(topic).prefix(6))") } }
    }

    /// A joined room's discovery topic is looked up while our user is in it, again after a restart, and no longer after a part.
    @Test func joinedRoomsAreLookedUpByTopic() async throws {
        let directory = DataDirectory(url: FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-disc-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let identity = try Identity.loadOrCreate(in: directory)
        let topic = "\(ZBase32.encode(RoomTopic(foldedChannelName: "#find").discoveryTopic).prefix(6))"
        var logger = Logger(label: "test.discovery")
        logger.logLevel = .critical

        // The gateway's person is found under their own topic, from the start.
        let person = "\(ZBase32.encode(PeopleWire.discoveryTopic(of: identity.keyPair.publicKey)).prefix(6))"
        let first = RecordingDiscovery()
        let gateway = try Gateway(directory: directory, identity: identity, logger: logger, discovery: first)
        let runner = Task { _ = try? await gateway.run() }
        await gateway.handle(.join(room: "#Find", nick: "alice"))
        await gateway.handle(.join(room: "#find", nick: "alice"))
        #expect(first.calls.withLock { $0 } == ["join \(person)", "join \(topic)"])
        gateway.shutdown()
        await runner.value

        let second = RecordingDiscovery()
        let restarted = try Gateway(directory: directory, identity: identity, logger: logger, discovery: second)
        let again = Task { _ = try? await restarted.run() }
        await restarted.ready()
        #expect(second.calls.withLock { $0 } == ["join \(topic)", "join \(person)"])
        await restarted.handle(.part(room: "#find", reason: "bye"))
        #expect(second.calls.withLock { $0 } == ["join \(topic)", "join \(person)", "leave \(topic)"])
        restarted.shutdown()
        await again.value
    }
}
