import HyperLog
import PearBridge
import Sodium
import Testing

@Suite struct RoomStateTests {
    static let local = [UInt8](repeating: 0xaa, count: 32)
    static let alice = [UInt8](repeating: 0x01, count: 32)
    static let bob = [UInt8](repeating: 0x02, count: 32)

    static func room(_ ledger: LedgerKind) -> RoomState {
        var room = RoomState(
            topic: RoomTopic(foldedChannelName: "#rust"), localWriter: local, fold: { $0.lowercased() }, ledger: ledger.make())
        room.setLocalNick("me")
        return room
    }

    static func block(_ kind: RoomEntry.Kind, _ lamport: UInt64, _ text: String) -> [UInt8] {
        RoomEntry(kind: kind, timestamp: 1, lamport: lamport, text: text).encoded()
    }

    /// A line keeps its msgid only inside its author's proven identity namespace, and only once.
    @Test(arguments: LedgerKind.allCases) func messageIDsBelongToTheirAuthorsNamespace(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        let topic = RoomTopic(foldedChannelName: "#rust")
        let aliceID = Ed25519.randomKeyPair(), bobID = Ed25519.randomKeyPair()
        for (writer, person) in [(Self.alice, aliceID), (Self.bob, bobID)] {
            let proof = WriterIdentity.entryText(identity: person, topic: topic, writer: writer)
            _ = room.ingest(author: writer, index: 0, block: RoomEntry(kind: .identity, timestamp: 1, lamport: 1, text: proof).encoded())
        }
        func ingest(_ author: [UInt8], _ index: UInt64, _ text: String, id: String) -> RoomHistory.Line? {
            let block = RoomEntry(kind: .message, timestamp: 1, lamport: index + 1, text: text, messageID: id).encoded()
            guard case .line(let line) = room.ingest(author: author, index: index, block: block).first else { return nil }
            return line
        }
        let alices = RoomState.messageIDNamespace(for: aliceID.publicKey), bobs = RoomState.messageIDNamespace(for: bobID.publicKey)
        // Bob tries to take an id alice will use: his line shows, without it; alice's line keeps it later.
        let preempted = ingest(Self.bob, 1, "squatting", id: alices + "r-2")
        #expect(preempted?.entry.text == "squatting" && preempted?.entry.messageID == nil)
        #expect(ingest(Self.alice, 1, "first", id: alices + "r-1")?.entry.messageID == alices + "r-1")
        #expect(ingest(Self.alice, 2, "second", id: alices + "r-2")?.entry.messageID == alices + "r-2")
        // Alice repeating an id: the repeat gets the derived one.
        #expect(ingest(Self.alice, 3, "again", id: alices + "r-1")?.entry.messageID == nil)
        #expect(ingest(Self.bob, 2, "own", id: bobs + "q-1")?.entry.messageID == bobs + "q-1")
        // An author who never proved an identity keeps no msgid.
        let stranger = [UInt8](repeating: 0x03, count: 32)
        #expect(ingest(stranger, 0, "who", id: "anything-1")?.entry.messageID == nil)
    }

    /// TARGETS needs a room's latest line: the newest author timestamp of a message, action or notice.
    /// A line shows the nick its author had when writing it, whatever they (or we) are called now; a nick someone
    /// else held first is suffixed as it was then; a remote author never shows under our nick.
    @Test(arguments: LedgerKind.allCases) func linesKeepTheNickTheirAuthorHadWhenWriting(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        var lines: [RoomHistory.Line] = []
        func ingest(_ author: [UInt8], _ index: UInt64, _ kind: RoomEntry.Kind, _ lamport: UInt64, _ text: String) {
            for case .line(let line) in room.ingest(author: author, index: index, block: Self.block(kind, lamport, text)) {
                lines.append(line)
            }
        }
        ingest(Self.bob, 0, .nick, 1, "bob")
        ingest(Self.bob, 1, .message, 2, "as bob")
        ingest(Self.local, 0, .nick, 3, "weeb")
        ingest(Self.local, 1, .message, 4, "as weeb")
        ingest(Self.bob, 2, .nick, 5, "robert")
        ingest(Self.bob, 3, .message, 6, "as robert")
        ingest(Self.alice, 0, .nick, 7, "bob")
        ingest(Self.alice, 1, .message, 8, "alice as bob")
        ingest(Self.alice, 2, .nick, 9, "me")
        ingest(Self.alice, 3, .message, 10, "alice as me")
        let carol = [UInt8](repeating: 0x03, count: 32)
        ingest(carol, 0, .nick, 11, "Robert")
        ingest(carol, 1, .message, 12, "carol as robert")
        room.setLocalNick("watcher")
        let shown = lines.map { room.nick(of: $0.position.author, at: $0.position) }
        let aliceTag = ZBase32.encode(Self.alice).prefix(4), carolTag = ZBase32.encode(carol).prefix(4)
        // "bob" was free when alice took it (bob was robert by then); "robert" was bob's when carol asked for it.
        #expect(shown == ["bob", "weeb", "robert", "bob", "me", "Robert|\(carolTag)"])
        room.setLocalNick("me")
        #expect(room.nick(of: Self.alice, at: lines[4].position) == "me|\(aliceTag)")
    }

    /// A writer cannot place a line early in history: its clock must be above its own previous entry and above the
    /// entries its heads say it had seen (where held). Such an entry is skipped, not shown.
    @Test(arguments: LedgerKind.allCases) func clocksThatBreakCausalityAreRejected(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        func ingest(_ author: [UInt8], _ index: UInt64, lamport: UInt64, heads: [RoomEntry.Head] = [], _ text: String) -> [RoomState.Event] {
            room.ingest(author: author, index: index, block: RoomEntry(kind: .message, timestamp: 1, lamport: lamport, heads: heads, text: text).encoded())
        }
        #expect(ingest(Self.alice, 0, lamport: 5, "first").count == 1)
        #expect(ingest(Self.alice, 1, lamport: 5, "same clock") == [.skipped(author: Self.alice, index: 1)])
        #expect(ingest(Self.alice, 2, lamport: 6, "next").count == 1)
        // Bob says he saw alice's first two entries (her entry 1 was skipped, entry 0 had clock 5) yet claims clock 3.
        #expect(ingest(Self.bob, 0, lamport: 3, heads: [.init(writer: Self.alice, length: 1)], "early") == [.skipped(author: Self.bob, index: 0)])
        #expect(ingest(Self.bob, 1, lamport: 7, heads: [.init(writer: Self.alice, length: 3)], "after").count == 1)
        // A head naming an entry not held is not waited for.
        #expect(ingest(Self.bob, 2, lamport: 8, heads: [.init(writer: Self.local, length: 40)], "unknown head").count == 1)
        #expect(room.everyLine.map(\.entry.text) == ["first", "next", "after", "unknown head"])
        // Out of order: an entry whose successor is held must stay below it.
        #expect(ingest(Self.alice, 9, lamport: 50, "ninth").count == 1)
        #expect(ingest(Self.alice, 8, lamport: 60, "eighth, too late a clock") == [.skipped(author: Self.alice, index: 8)])
    }

    /// A head naming an entry not held yet is checked when that entry arrives: an entry that claimed to have seen it
    /// with a clock not above it is withdrawn from the history (it was shown; display never waited), an honest one
    /// stays.
    @Test(arguments: LedgerKind.allCases) func headsNotHeldAreCheckedWhenTheyArrive(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        func ingest(_ author: [UInt8], _ index: UInt64, lamport: UInt64, heads: [RoomEntry.Head] = [], _ text: String) -> [RoomState.Event] {
            room.ingest(author: author, index: index, block: RoomEntry(kind: .message, timestamp: 1, lamport: lamport, heads: heads, text: text).encoded())
        }
        let carol = [UInt8](repeating: 0x03, count: 32)
        // Bob claims to have seen alice's first three entries at clock 4; carol claims the same at clock 9.
        #expect(ingest(Self.bob, 0, lamport: 4, heads: [.init(writer: Self.alice, length: 3)], "bob too early").count == 1)
        #expect(ingest(carol, 0, lamport: 9, heads: [.init(writer: Self.alice, length: 3)], "carol after").count == 1)
        #expect(ingest(Self.alice, 0, lamport: 1, "a1").count == 1)
        #expect(ingest(Self.alice, 1, lamport: 2, "a2").count == 1)
        let events = ingest(Self.alice, 2, lamport: 5, "a3")
        let withdrawn = events.compactMap { event -> String? in
            if case .withdrawn(let line) = event { return line.entry.text }
            return nil
        }
        #expect(withdrawn == ["bob too early"])
        #expect(events.contains { if case .line(let line) = $0 { line.entry.text == "a3" } else { false } })
        #expect(room.everyLine.map(\.entry.text) == ["a1", "a2", "a3", "carol after"])
        // Checked once: the same block again changes nothing.
        #expect(ingest(Self.alice, 2, lamport: 5, "a3").isEmpty)
    }

    @Test(arguments: LedgerKind.allCases) func theLatestLineTimestampIgnoresOtherEntries(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        #expect(room.latestLineTimestamp == nil)
        let late = RoomEntry(kind: .message, timestamp: 5_000, lamport: 1, text: "late").encoded()
        let early = RoomEntry(kind: .action, timestamp: 3_000, lamport: 2, text: "early").encoded()
        let topic = RoomEntry(kind: .topic, timestamp: 9_000, lamport: 3, text: "not a line").encoded()
        _ = room.ingest(author: Self.alice, index: 0, block: late)
        _ = room.ingest(author: Self.bob, index: 0, block: early)
        _ = room.ingest(author: Self.bob, index: 1, block: topic)
        #expect(room.latestLineTimestamp == 5_000)
    }

    @Test(arguments: LedgerKind.allCases) func ingestProducesIRCEventsAndHeads(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        #expect(room.ingest(author: Self.alice, index: 0, block: Self.block(.join, 1, "")) == [.joined(author: Self.alice)])
        let renamed = room.ingest(author: Self.alice, index: 1, block: Self.block(.nick, 2, "alice"))
        #expect(renamed == [.nickChanged(author: Self.alice, from: NickDirectory.fallbackNick(for: Self.alice), to: "alice")])
        let events = room.ingest(author: Self.alice, index: 2, block: Self.block(.message, 3, "hello"))
        guard case .line(let line) = events.first else {
            Issue.record("expected a line, got \(events)")
            return
        }
        #expect(line.entry.text == "hello")
        #expect(room.displayNick(for: Self.alice) == "alice")
        // Duplicates produce nothing.
        #expect(room.ingest(author: Self.alice, index: 2, block: Self.block(.message, 3, "hello")).isEmpty)

        // A local line comes after everything seen and records alice's length as its head.
        let composed = room.composeLocal(kind: .message, text: "hi alice", timestamp: 5)
        #expect(composed.lamport == 4)
        #expect(composed.heads == [.init(writer: Self.alice, length: 3)])
    }

    @Test(arguments: LedgerKind.allCases) func outOfOrderBlocksKeepHeadsContiguous(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        _ = room.ingest(author: Self.bob, index: 1, block: Self.block(.message, 2, "second"))
        #expect(room.writerLengths[Self.bob] == 0)
        _ = room.ingest(author: Self.bob, index: 0, block: Self.block(.message, 1, "first"))
        #expect(room.writerLengths[Self.bob] == 2)
        #expect(room.everyLine.map(\.entry.text) == ["first", "second"])
    }

    @Test(arguments: LedgerKind.allCases) func garbageAndFutureEntriesAreSkipped(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        #expect(room.ingest(author: Self.bob, index: 0, block: [0xff, 0xff]) == [.skipped(author: Self.bob, index: 0)])
        #expect(room.ingest(author: Self.bob, index: 1, block: [9, 9, 9]) == [.skipped(author: Self.bob, index: 1)])
        #expect(room.writerLengths[Self.bob] == 2, "skipped blocks still count as seen")
        #expect(room.everyLine.isEmpty)
    }

    @Test(arguments: LedgerKind.allCases) func topicFollowsHistoryOrderAndCollisionsRename(_ ledger: LedgerKind) {
        var room = Self.room(ledger)
        _ = room.ingest(author: Self.alice, index: 0, block: Self.block(.topic, 5, "newer"))
        #expect(room.ingest(author: Self.bob, index: 0, block: Self.block(.topic, 3, "older")).isEmpty)
        #expect(room.topicText?.text == "newer")

        _ = room.ingest(author: Self.alice, index: 1, block: Self.block(.nick, 6, "pat"))
        let collision = room.ingest(author: Self.bob, index: 1, block: Self.block(.nick, 7, "PAT"))
        #expect(room.displayNick(for: Self.alice) == "pat")
        #expect(room.displayNick(for: Self.bob).hasPrefix("PAT|"))
        #expect(collision.contains { if case .nickChanged(let author, _, _) = $0 { author == Self.bob } else { false } })
        // A remote author wanting the local nick is suffixed too.
        _ = room.ingest(author: Self.bob, index: 2, block: Self.block(.nick, 8, "me"))
        #expect(room.displayNick(for: Self.bob).hasPrefix("me|"))
    }
}

extension RoomStateTests {
    /// A room read back from its ledger (a restart) knows what the one that ingested the entries knew: how far each
    /// writer was read (gaps too), nicks then and now, identities, the topic, the time range, the next clock.
    @Test(arguments: LedgerKind.allCases) func aRoomReadBackFromItsLedgerKnowsWhatItKnew(_ ledger: LedgerKind) {
        let topic = RoomTopic(foldedChannelName: "#rust")
        var room = RoomState(topic: topic, localWriter: Self.local, fold: { $0.lowercased() }, ledger: ledger.make())
        let person = Ed25519.randomKeyPair()
        func ingest(_ author: [UInt8], _ index: UInt64, _ kind: RoomEntry.Kind, _ lamport: UInt64, _ text: String, at time: UInt64) {
            _ = room.ingest(author: author, index: index, block: RoomEntry(kind: kind, timestamp: time, lamport: lamport, text: text).encoded())
        }
        ingest(Self.alice, 0, .identity, 1, WriterIdentity.entryText(identity: person, topic: topic, writer: Self.alice), at: 1_000)
        ingest(Self.alice, 1, .nick, 2, "alice", at: 1_001)
        ingest(Self.bob, 0, .nick, 3, "bob", at: 1_002)
        ingest(Self.alice, 2, .message, 4, "hello", at: 1_003)
        ingest(Self.bob, 1, .topic, 5, "rust things", at: 1_004)
        ingest(Self.alice, 3, .nick, 6, "alicia", at: 1_005)
        ingest(Self.bob, 3, .message, 8, "after a gap", at: 1_007)

        let back = RoomState(topic: topic, localWriter: Self.local, fold: { $0.lowercased() }, restoringFrom: room.ledger)
        #expect(back.writerLengths == room.writerLengths)
        #expect(back.writerLengths == [Self.alice: 4, Self.bob: 2])
        #expect(back.identities == [Self.alice: person.publicKey])
        #expect(back.displayNick(for: Self.alice) == "alicia" && back.displayNick(for: Self.bob) == "bob")
        let hello = RoomHistory.Position(lamport: 4, author: Self.alice, index: 2)
        #expect(back.nick(of: Self.alice, at: hello) == "alice")
        #expect(back.topicText?.text == "rust things")
        #expect(back.earliestTimestamp == 1_000 && back.latestLineTimestamp == 1_007)
        #expect(back.composeLocal(kind: .message, text: "next", timestamp: 2_000).lamport == 9)
        // Bob's entry 2 arrives after the restart: the gap closes as it would have.
        var resumed = back
        _ = resumed.ingest(author: Self.bob, index: 2, block: RoomEntry(kind: .message, timestamp: 1_006, lamport: 7, text: "gap").encoded())
        #expect(resumed.writerLengths[Self.bob] == 4)
    }
}

extension RoomStateTests {
    /// Ingesting a writer's blocks as one batch decides exactly what ingesting them one by one does, and leaves the
    /// same progress in the ledger (written once for the batch).
    @Test(arguments: LedgerKind.allCases) func aBatchIngestsAsOneByOneDoes(_ ledger: LedgerKind) {
        var single = Self.room(ledger), batched = Self.room(ledger)
        let blocks = [
            Self.block(.nick, 1, "alice"), Self.block(.message, 2, "one"), Self.block(.message, 2, "clock not above"),
            [0xff, 0x00], Self.block(.topic, 5, "topic"), Self.block(.message, 6, "last"),
        ]
        let one = blocks.enumerated().map { single.ingest(author: Self.alice, index: UInt64($0.offset), block: $0.element) }
        let many = batched.ingest(author: Self.alice, from: 0, blocks: blocks)
        #expect(one == many)
        #expect(batched.writerLengths == single.writerLengths)
        // A gap: blocks 8 and 9 arrive before 6 and 7.
        _ = batched.ingest(author: Self.alice, from: 8, blocks: [Self.block(.message, 9, "after a gap"), Self.block(.message, 10, "end")])
        let back = RoomState(topic: batched.topic, localWriter: Self.local, fold: { $0.lowercased() }, restoringFrom: batched.ledger)
        #expect(back.writerLengths[Self.alice] == 6)
        var resumed = back
        _ = resumed.ingest(author: Self.alice, from: 6, blocks: [Self.block(.message, 7, "six"), Self.block(.message, 8, "seven")])
        #expect(resumed.writerLengths[Self.alice] == 10)
    }
}

@Suite struct WriterIdentityTests {
    static let fold: @Sendable (String) -> String = { $0.lowercased() }

    static func block(_ text: String) -> [UInt8] {
        RoomEntry(kind: .identity, timestamp: 1, lamport: 1, text: text).encoded()
    }

    @Test(arguments: LedgerKind.allCases) func aValidProofBindsTheWriterAndForgeriesAreSkipped(_ ledger: LedgerKind) {
        let person = Ed25519.randomKeyPair(), writer = RandomBytes.generate(count: 32), other = RandomBytes.generate(count: 32)
        let topic = RoomTopic(foldedChannelName: "#room"), elsewhere = RoomTopic(foldedChannelName: "#elsewhere")
        var state = RoomState(topic: topic, localWriter: RandomBytes.generate(count: 32), fold: Self.fold, ledger: ledger.make())
        // Signed for another room, for another log, by a key that is not the one claimed, or not z-base-32 at all.
        let forAnotherRoom = WriterIdentity.entryText(identity: person, topic: elsewhere, writer: writer)
        let forAnotherLog = WriterIdentity.entryText(identity: person, topic: topic, writer: other)
        var swapped = ZBase32.decode(WriterIdentity.entryText(identity: person, topic: topic, writer: writer)) ?? []
        swapped.replaceSubrange(0..<32, with: Ed25519.randomKeyPair().publicKey)
        for (index, text) in [forAnotherRoom, forAnotherLog, ZBase32.encode(swapped), "not a proof"].enumerated() {
            #expect(state.ingest(author: writer, index: UInt64(index), block: Self.block(text)) == [
                .skipped(author: writer, index: UInt64(index))
            ])
        }
        #expect(state.identities[writer] == nil)
        let valid = WriterIdentity.entryText(identity: person, topic: topic, writer: writer)
        #expect(state.ingest(author: writer, index: 4, block: Self.block(valid)) == [
            .identified(author: writer, identity: person.publicKey)
        ])
        #expect(state.identities[writer] == person.publicKey)
        // Once bound, a later proof (even a valid one for another identity) changes nothing.
        let intruder = Ed25519.randomKeyPair()
        let second = WriterIdentity.entryText(identity: intruder, topic: topic, writer: writer)
        #expect(state.ingest(author: writer, index: 5, block: Self.block(second)) == [.skipped(author: writer, index: 5)])
        #expect(state.identities[writer] == person.publicKey)
    }
}
