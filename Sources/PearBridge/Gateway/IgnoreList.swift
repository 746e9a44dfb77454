import Foundation
import HyperLog
import Synchronization

/// The people this gateway's user ignores (`/msg PearServ ignore`), by member id (the z-base-32 identity key once a
/// person's log proved it, else their writer key): their lines are not shown, live or in history, and nothing of
/// theirs leaves this gateway's view of the room. Local only: no peer learns of it. Kept in `ignores.json` in the
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

    /// Adds or removes `id` and saves the list (atomically, mode 0600); returns whether it changed. Throws what
    /// saving threw (the change is undone then).
    @discardableResult
    func set(_ id: String, ignored: Bool) throws -> Bool {
        let (changed, snapshot) = ids.withLock { ids -> (Bool, [String]) in
            let changed = ignored ? ids.insert(id).inserted : ids.remove(id) != nil
            return (changed, ids.sorted())
        }
        guard changed else { return false }
        do {
            try JSONEncoder().encode(snapshot).write(to: file, options: .atomic)
            chmod(file.path, 0o600)
        } catch {
            ids.withLock { ids in if ignored { ids.remove(id) } else { ids.insert(id) } }
            throw error
        }
        return true
    }
}
