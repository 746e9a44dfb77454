import Foundation
import HyperLog
import Synchronization

/// The people this gateway's user ignores (`/msg PearServ ignore`), by member id (the z-base-32 identity key once a
/// person's log proved it, else their writer key): their lines are not shown, live or in history (they still show as
/// members of the room). Local only: no peer learns of it. Kept in `ignores.json` in the
/// data directory.
public final class IgnoreList: Sendable {
    let file: URL
    private let ids: Mutex<Set<String>>

    /// Reads the saved list; a missing file is an empty list, an unreadable one is an error the caller reports.
    init(file: URL) throws {
        self.file = file
        if FileManager.default.fileExists(atPath: file.path) {
            ids = Mutex(Set(try JSONDecoder().decode([String].self, from: Data(contentsOf: file))))
        } else {
            ids = Mutex([])
        }
    }

    public func contains(_ id: String) -> Bool { ids.withLock { $0.contains(id) } }

    public var all: [String] { ids.withLock { $0.sorted() } }

    /// Adds or removes `id` and saves the list (atomically, mode 0600, under the lock so concurrent changes are
    /// written in order); returns whether it changed. Throws what saving threw (the change is undone then).
    @discardableResult
    func set(_ id: String, ignored: Bool) throws -> Bool {
        try ids.withLock { ids -> Bool in
            var changed = ids
            let differs = ignored ? changed.insert(id).inserted : changed.remove(id) != nil
            guard differs else { return false }
            try JSONEncoder().encode(changed.sorted()).write(to: file, options: .atomic)
            chmod(file.path, 0o600)
            ids = changed
            return true
        }
    }

    /// Whether a line's author is ignored: by the id they show now, or by the writer key they showed before their
    /// log proved who they are (an ignore given then still holds).
    public func hides(_ author: RoomMember) -> Bool {
        // Asked for every line shown: nothing to encode while the list is empty, as it mostly is.
        ids.withLock { !$0.isEmpty && ($0.contains(author.id) || $0.contains(ZBase32.encode(author.writer))) }
    }
}
