import HyperLog

/// Decides whether a room accepts one more writer log. The seam where room moderation will plug in (an allow
/// list, a ban, a writer proven by someone the room trusts); today only the size of the set is bounded.
public protocol WriterAdmissionRule: Sendable {
    /// Whether `writer` may join a room that already has `count` writers.
    func admits(_ writer: [UInt8], currentCount count: Int) -> Bool
}

/// Today's rule: any writer, up to a fixed number per room. Each writer is a log on disk replicated on every
/// connection, so a peer must not be able to grow the set without bound.
public struct CappedWriterAdmission: WriterAdmissionRule {
    public var maximum: Int

    public init(maximum: Int) { self.maximum = maximum }

    public func admits(_ writer: [UInt8], currentCount count: Int) -> Bool { count < maximum }
}

/// The writer logs of one room (ours included) and the rule that admits new ones. Pure: opening the logs is the
/// shell's job once a key is admitted.
struct RoomWriters: Sendable {
    enum Admission: Equatable {
        /// New: the caller opens its log and replicates it.
        case admitted
        /// Already a writer of this room.
        case known
        /// Not a 32-byte key.
        case invalid
        /// The admission rule said no.
        case refused
    }

    private(set) var keys: Set<[UInt8]>
    let rule: any WriterAdmissionRule

    init(own: [UInt8], rule: any WriterAdmissionRule) {
        keys = [own]
        self.rule = rule
    }

    var count: Int { keys.count }

    func contains(_ key: [UInt8]) -> Bool { keys.contains(key) }

    /// Keys in a stable order (bytewise), for lists sent to peers and saved.
    var sorted: [[UInt8]] { keys.sorted { $0.lexicographicallyPrecedes($1) } }

    mutating func admit(_ key: [UInt8]) -> Admission {
        guard key.count == 32 else { return .invalid }
        guard !keys.contains(key) else { return .known }
        guard rule.admits(key, currentCount: keys.count) else { return .refused }
        keys.insert(key)
        return .admitted
    }

    /// Another local person's writer: ours, so not subject to the rule (which bounds what peers can add); returns
    /// whether it is new.
    mutating func addLocal(_ key: [UInt8]) -> Bool {
        keys.insert(key).inserted
    }

    /// A writer whose log could not be opened is forgotten, so a later announcement can try again.
    mutating func remove(_ key: [UInt8]) {
        keys.remove(key)
    }
}
