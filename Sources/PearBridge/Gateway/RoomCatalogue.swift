import Foundation
import HyperLog

/// `rooms.json`: the rooms this gateway knows, which of our people have a log of each and are in it, and their writer
/// keys, so rooms are reopened, announced and replicated at start even before a front end joins them.
struct RoomCatalogue {
    struct Room: Codable, Equatable {
        var channel: String
        var joined: Bool
        /// Writer keys, z-base-32, sorted.
        var writers: [String]
        /// Who this gateway has shown under which nick (folded nick → writer key, z-base-32); absent in older files.
        var nicks: [String: String]? = nil
        /// A direct conversation: the other person's identity key, z-base-32 (`channel` is then its name,
        /// `GatewayState.conversationName`); absent for rooms.
        var counterpart: String? = nil
        /// A private room: its root (z-base-32; the secret itself is never kept); absent for public rooms.
        var privateRoot: String? = nil
        /// A private room its channel name means here (joined, or an accepted invite not yet entered).
        var named: Bool? = nil
        /// Our people with a log of the room (identity keys, z-base-32) and whether each is in it; `joined` is then
        /// whether any is. Absent in files from before a gateway spoke for several people: the first person's alone.
        var people: [String: Bool]? = nil
    }

    /// One of our people in a saved room.
    struct Local: Equatable {
        let person: [UInt8]
        let joined: Bool
    }

    /// Our people with a log of a saved room, the first person first (whose log the room was opened with before), then
    /// by key.
    static func locals(of room: Room, firstPerson: [UInt8]) -> [Local] {
        guard let people = room.people else { return [Local(person: firstPerson, joined: room.joined)] }
        let locals = people.compactMap { key, joined in
            ZBase32.decode(key).flatMap { $0.count == 32 ? Local(person: $0, joined: joined) : nil }
        }
        return locals.sorted { a, b in
            if (a.person == firstPerson) != (b.person == firstPerson) { return a.person == firstPerson }
            return a.person.lexicographicallyPrecedes(b.person)
        }
    }

    let file: URL

    /// The saved rooms; none when the file does not exist. A file that cannot be read is an error the caller logs.
    func load() throws -> [Room] {
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        return try JSONDecoder().decode([Room].self, from: Data(contentsOf: file))
    }

    /// Replaces the file atomically (written aside, then renamed), mode 0600 like the rest of the data directory.
    func save(_ rooms: [Room]) throws {
        let data = try JSONEncoder().encode(rooms.sorted { ($0.channel, $0.privateRoot ?? "") < ($1.channel, $1.privateRoot ?? "") })
        try data.write(to: file, options: .atomic)
        chmod(file.path, 0o600)
    }

    /// The catalogue of a gateway state.
    static func rooms(of state: GatewayState) -> [Room] {
        state.rooms.values.map { room in
            Room(
                channel: room.channel, joined: room.joined, writers: room.writers.sorted.map(ZBase32.encode),
                nicks: room.state.nickHolders.isEmpty ? nil : room.state.nickHolders.mapValues(ZBase32.encode),
                counterpart: room.kind.counterpart.map(ZBase32.encode),
                privateRoot: room.kind.privateKeys.map { ZBase32.encode($0.root) },
                named: room.kind.privateKeys != nil && state.privateNames[state.fold(room.channel)] == room.topic ? true : nil,
                people: Dictionary(uniqueKeysWithValues: room.locals.map { (ZBase32.encode($0.key), $0.value.joined) }))
        }
    }
}
