import Foundation
import HyperLog
import Synchronization
import Testing

@testable import PearBridge

@Suite struct RoomAppenderTests {
    /// What queued up while the appender was busy is committed together, in order: one append, one signature.
    @Test func batchesQueuedTogetherAreOneCommitInOrder() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-appender-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try LogStore(directory: directory)
        let log = try await store.writableLog(name: "room/test")
        let appender = RoomAppender(log: log)
        for text in ["one", "two", "three"] {
            let entry = RoomEntry(kind: .message, timestamp: 1, lamport: 1, text: text)
            #expect(appender.enqueue(RoomAppender.Batch(entries: [entry], completion: nil)))
        }
        appender.finish()
        let reports = Mutex<[RoomAppender.Outcome]>([])
        await appender.run { outcome, _ in reports.withLock { $0.append(outcome) } }
        let outcomes = reports.withLock { $0 }
        #expect(outcomes.count == 1)
        guard case .appended(let first, let blocks)? = outcomes.first else {
            Issue.record("no commit: \(outcomes)")
            return
        }
        #expect(first == 0 && blocks.count == 3)
        #expect(try await log.length == 3)
        let texts = try await log.contiguousBlocks(from: 0).map { block -> String in
            guard case .entry(let entry) = try RoomEntry.decode(block) else { return "?" }
            return entry.text
        }
        #expect(texts == ["one", "two", "three"])
        #expect(!appender.enqueue(RoomAppender.Batch(entries: [], completion: nil)), "finished: nothing more is taken")
    }
}
