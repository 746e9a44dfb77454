import Foundation
import HyperLog
import Logging

/// The shell's side of the rooms' history index: opening a room's ledger (caught up or rebuilt against the logs), and
/// ingesting in index transactions.
extension Gateway {
    /// The ledger of a room, checked against the logs it was built from: if it has read further into a writer's log
    /// than the store holds (the store was lost, restored from a backup, or damaged), the room's index is rebuilt
    /// from the logs; if it is behind (a crash before its last commit), ingesting goes on from where it stopped.
    func ledger(for topic: RoomTopic) async throws -> StoredRoomLedger {
        let ledger = try roomIndex.ledger(for: topic)
        for (writer, progress) in ledger.progress() where progress.length > 0 {
            let held = try await store.replica(key: writer).contiguousLength
            guard held < progress.length else { continue }
            logger.warning(
                "the room history index has more of a writer than the store holds; rebuilding the room's index from the logs",
                metadata: [
                    "room": "\(topic)", "writer": "\(ZBase32.encode(writer))", "indexed": "\(progress.length)",
                    "stored": "\(held)",
                ])
            try roomIndex.reset(topic)
            break
        }
        return ledger
    }

    /// Runs an ingesting step of the state in one index transaction and returns its actions. If the index could not
    /// be written, nothing of the step is kept: the room is read back from its ledger (as it was before the step) and
    /// the blocks are ingested again on the next change; they are stored in the logs, so nothing is lost.
    func indexed(_ topic: RoomTopic, _ step: (inout GatewayState) -> [GatewayAction]) -> [GatewayAction] {
        do {
            return try roomIndex.batch { step(&state) }
        } catch {
            logger.error(
                "could not write the room history index (is the disk full?); will retry",
                metadata: ["room": "\(state.rooms[topic]?.channel ?? topic.description)", "error": "\(error)"])
            state.roomReloaded(topic)
            return []
        }
    }

    /// Earlier versions kept the history index in a file of its own beside the store: it is derived data, now kept in
    /// the store's database, so the old file goes and the rooms are indexed again from their logs as they open.
    static func removeSeparateIndex(in directory: URL, logger: Logger) {
        let path = directory.appendingPathComponent(RoomIndex.fileName).path
        let manager = FileManager.default
        guard manager.fileExists(atPath: path) || manager.fileExists(atPath: path + ".damaged") else { return }
        for suffix in ["", "-wal", "-shm", "-clean", ".damaged", ".damaged-wal", ".damaged-shm"] {
            try? manager.removeItem(atPath: path + suffix)
        }
        logger.info(
            "the room history index now lives in the store's database: the old index file was removed, and rooms are indexed again from their logs",
            metadata: ["file": "\(path)"])
    }
}
