import Foundation
import HyperLog
import Synchronization

/// The people each of this gateway's people ignores (`/msg PearServ ignore`), by member id (the z-base-32 identity key
/// once a person's log proved it, else their writer key): their lines are not shown to the person who ignores them,
/// live or in history (they still show as members of the room), and no direct conversation with them runs. Local
/// only: no peer learns of it. Kept in `ignores.json` in the data directory: an object from each person's identity
/// (z-base-32) to the ids they ignore; a file from before a gateway spoke for several people is a list, the first
/// person's.
public final class IgnoreList: Sendable {
    let file: URL
    /// The gateway's first person (whose list an old file is).
    let firstPerson: String
    private let byPerson: Mutex<[String: Set<String>]>

    /// Reads the saved lists; a missing file is no list, an unreadable one is an error the caller reports.
    init(file: URL, firstPerson: [UInt8]) throws {
        self.file = file
        self.firstPerson = ZBase32.encode(firstPerson)
        guard FileManager.default.fileExists(atPath: file.path) else {
            byPerson = Mutex([:])
            return
        }
        let data = try Data(contentsOf: file)
        if let old = try? JSONDecoder().decode([String].self, from: data) {
            byPerson = Mutex(old.isEmpty ? [:] : [self.firstPerson: Set(old)])
        } else {
            byPerson = Mutex(try JSONDecoder().decode([String: [String]].self, from: data).mapValues(Set.init))
        }
    }

    /// Whether `person` (an identity key) ignores `id`.
    public func contains(_ id: String, by person: [UInt8]) -> Bool {
        byPerson.withLock { $0[ZBase32.encode(person)]?.contains(id) ?? false }
    }

    /// The ids `person` ignores, sorted.
    public func all(of person: [UInt8]) -> [String] {
        byPerson.withLock { ($0[ZBase32.encode(person)] ?? []).sorted() }
    }

    /// Adds or removes `id` from `person`'s list and saves the lists (atomically, mode 0600, under the lock so
    /// concurrent changes are written in order); returns whether it changed. Throws what saving threw (the change is
    /// undone then).
    @discardableResult
    func set(_ id: String, ignored: Bool, by person: [UInt8]) throws -> Bool {
        let key = ZBase32.encode(person)
        return try byPerson.withLock { lists -> Bool in
            var changed = lists[key] ?? []
            let differs = ignored ? changed.insert(id).inserted : changed.remove(id) != nil
            guard differs else { return false }
            var next = lists
            next[key] = changed.isEmpty ? nil : changed
            try JSONEncoder().encode(next.mapValues { $0.sorted() }).write(to: file, options: .atomic)
            chmod(file.path, 0o600)
            lists = next
            return true
        }
    }

    /// Whether `person` ignores a line's author: by the id they show now, or by the writer key they showed before
    /// their log proved who they are (an ignore given then still holds).
    public func hides(_ author: RoomMember, from person: [UInt8]) -> Bool {
        // Asked for every line shown: nothing to encode while no one ignores anyone, as is usual.
        byPerson.withLock { lists in
            guard !lists.isEmpty, let ids = lists[ZBase32.encode(person)] else { return false }
            return ids.contains(author.id) || ids.contains(ZBase32.encode(author.writer))
        }
    }

    /// The people (identity keys) who ignore a line's author; empty as a rule.
    public func ignorers(of author: RoomMember) -> [[UInt8]] {
        byPerson.withLock { lists in
            guard !lists.isEmpty else { return [] }
            let writer = ZBase32.encode(author.writer)
            return lists.compactMap { person, ids in
                ids.contains(author.id) || ids.contains(writer) ? ZBase32.decode(person) : nil
            }
        }
    }
}
