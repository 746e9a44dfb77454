import Foundation
import IRCServer
@testable import PearBridge
import Sodium
import Testing

/// CHATHISTORY windows answered from a ledger's indexes give what the IRC core's in-memory `HistoryWindow` gives on
/// the same lines, for every kind of request and reference, on both ledgers.
@Suite struct RoomHistoryWindowTests {
    static let topic = RoomTopic(foldedChannelName: "#window")
    static let firstTime: UInt64 = 1_780_000_000_000

    /// A room of four writers: nicks, joins and 240 chat lines (some with msgids of their own, some sharing a
    /// millisecond), entries of every writer interleaved; times rise with history order, as honest clocks make them.
    static func room(_ kind: LedgerKind) -> RoomRecord {
        let writers = (0..<4).map { _ in RandomBytes.generate(count: 32) }
        var room = RoomRecord(
            channel: "#window", topic: topic, person: writers[0], ownWriter: writers[0], rule: CappedWriterAdmission(maximum: 16),
            fold: { $0.lowercased() }, ledger: kind.make(topic: topic))
        let people = writers.map { _ in Ed25519.randomKeyPair() }
        var next = [UInt64](repeating: 0, count: writers.count)
        for number in 0..<268 {
            let w = number % writers.count
            let kind: RoomEntry.Kind =
                number < 4 ? .identity : number < 8 ? .nick : number % 29 == 0 ? .join : number % 3 == 0 ? .action : .message
            let text = kind == .identity
                ? WriterIdentity.entryText(identity: people[w], topic: topic, writer: writers[w]) : "n\(number)"
            // Some lines carry their author's own msgid; the others show derived ones.
            let id = number % 5 == 0 ? RoomState.messageIDNamespace(for: people[w].publicKey) + "m\(number)" : nil
            // Pairs of lines share a millisecond: timestamp references must tell "at" from "after".
            let time = firstTime + UInt64(number / 2) * 10
            let entry = RoomEntry(kind: kind, timestamp: time, lamport: UInt64(number + 1), text: text, messageID: id)
            _ = room.state.ingest(author: writers[w], index: next[w], block: entry.encoded())
            next[w] += 1
        }
        return room
    }

    static func chatLines(_ room: RoomRecord) -> [ChatLine] {
        room.state.everyLine.compactMap(room.chatLine).map {
            ChatLine(id: $0.id, time: $0.time, channel: "#window", source: $0.author.nick, kind: .privmsg, text: $0.text)
        }
    }

    @Test(arguments: LedgerKind.allCases) func everyWindowMatchesTheInMemoryRule(_ kind: LedgerKind) {
        let room = Self.room(kind)
        let truth = Self.chatLines(room)
        #expect(truth.count > 200)
        #expect(truth.contains { $0.id.contains(".m") } && truth.contains { $0.id.contains("-") })
        func ask(_ query: HistoryQuery) {
            let expected = HistoryWindow.select(query, from: truth).map(\.text)
            let window = GatewayBackend.window(of: query)
            let got = window.select(from: room.state.ledger, derivedLine: room.line(derivedID:)).compactMap(room.chatLine).map(\.text)
            #expect(got == expected, "\(query)")
        }
        let ids = [truth[0].id, truth[1].id, truth[57].id, truth[120].id, truth[truth.count - 2].id, truth.last!.id, "nope-1", "x"]
        let times = [
            Self.firstTime - 5, Self.firstTime, Self.firstTime + 5, Self.firstTime + 300, Self.firstTime + 305,
            Self.firstTime + 1_290, Self.firstTime + 99_999,
        ].map { HistoryReference.timestamp(Date(timeIntervalSince1970: Double($0) / 1000)) }
        let references = ids.map(HistoryReference.messageID) + times
        for limit in [0, 1, 7, 50, 500] {
            ask(.latest(channel: "#window", limit: limit))
            for reference in references {
                ask(.before(channel: "#window", reference: reference, limit: limit))
                ask(.after(channel: "#window", reference: reference, limit: limit))
                ask(.around(channel: "#window", reference: reference, limit: limit))
                for other in [references[2], references[4], references[9], references[11]] {
                    ask(.between(channel: "#window", from: reference, to: other, limit: limit))
                }
            }
        }
    }
}
