import Foundation
import PearBridge
import Testing

/// The two kinds of `RoomLedger`: tests of the room rules run against both, so they must answer alike.
enum LedgerKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case stored

    var testDescription: String { rawValue }

    /// A fresh, empty ledger (a stored one in a new index file of its own).
    func make(topic: RoomTopic = RoomTopic(foldedChannelName: "#rust")) -> any RoomLedger {
        switch self {
        case .memory:
            return MemoryRoomLedger()
        case .stored:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)")
            try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return try! RoomIndex(path: directory.appendingPathComponent(RoomIndex.fileName).path).ledger(for: topic)
        }
    }
}

extension RoomState {
    /// Every valid entry held, in history order.
    var everyLine: [RoomHistory.Line] {
        ledger.entries(ofKinds: Set(RoomEntry.Kind.allCases))
    }
}
