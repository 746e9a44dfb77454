import HyperLog

/// Display nicks of room authors, made unique deterministically.
///
/// Each author's wish is the text of their latest `nick` entry. When several keys wish for the same nick (after
/// case-folding), the one whose wish is oldest in history order keeps it and every other gets `nick|xxxx`, `xxxx`
/// being the first four z-base-32 characters of its key: readable, stable, and the same on every gateway that
/// holds the same entries. The local user's own nick is reserved, so a remote author never takes it.
public struct NickDirectory: Sendable {
    public struct Claim: Hashable, Sendable {
        public var nick: String
        /// History position of the nick entry (its Lamport clock, key, index), for precedence.
        public var position: RoomHistory.Position
        /// `nick` case-folded, once: every line shown compares it with every other author's.
        var folded: String
    }

    private var claims: [[UInt8]: Claim] = [:]
    /// Every nick entry of each author, in history order: a line is shown under the nick its author had then.
    private var timeline: [[UInt8]: [Claim]] = [:]
    private let fold: @Sendable (String) -> String

    /// - Parameter fold: the IRC casemapping (rfc1459 by default in PearIRC).
    public init(fold: @escaping @Sendable (String) -> String) {
        self.fold = fold
    }

    /// Records an author's nick entry; an older claim than the one held is ignored.
    public mutating func claim(author: [UInt8], nick: String, position: RoomHistory.Position) {
        let claim = Claim(nick: nick, position: position, folded: fold(nick))
        var entries = timeline[author, default: []]
        // Mostly in order; an older entry arriving late slots in where it belongs.
        let slot = entries.lastIndex { $0.position < position }.map { $0 + 1 } ?? 0
        entries.insert(claim, at: slot)
        timeline[author] = entries
        if let existing = claims[author], !(existing.position < position) { return }
        claims[author] = claim
    }

    /// The nick `author` had at `position` in history (their latest nick entry before it), made unique as it was
    /// then: if someone else held that nick when the author took it, the author is the one suffixed. nil when they had
    /// sent no nick entry yet.
    public func nick(of author: [UInt8], at position: RoomHistory.Position) -> String? {
        guard let claim = timeline[author]?.last(where: { $0.position < position }) else { return nil }
        let folded = claim.folded
        // A nick this gateway has shown for someone is theirs in history too, whatever clock a newcomer chose.
        if let holder = holders[folded] { return holder == author ? claim.nick : Self.suffixed(claim.nick, author: author) }
        let beaten = timeline.contains { other, entries in
            guard other != author, let held = entries.last(where: { $0.position < claim.position }) else { return false }
            return held.folded == folded
        }
        return beaten ? Self.suffixed(claim.nick, author: author) : claim.nick
    }

    /// The nick `author` asked for in their latest nick entry, before any collision is resolved.
    public func wish(of author: [UInt8]) -> String? {
        claims[author]?.nick
    }

    /// Who this gateway has shown under each nick (folded): a nick shown for a writer is never handed to another here,
    /// whatever clocks a newcomer's entries carry (petname-style safety against a fresh identity taking a known nick).
    public private(set) var holders: [String: [UInt8]] = [:]

    /// The author was shown to a front end: if under their wished nick itself, that nick is theirs here for good.
    /// Returns whether a new holder was recorded (the caller saves it).
    public mutating func markShown(_ author: [UInt8], localNick: String?) -> Bool {
        markShown(author, reserved: localNick.map { [fold($0)] } ?? [])
    }

    /// `markShown(_:localNick:)` with the local people's nicks, folded.
    public mutating func markShown(_ author: [UInt8], reserved: Set<String>) -> Bool {
        guard let wish = claims[author]?.nick, displayNick(for: author, reserved: reserved) == wish else { return false }
        let folded = fold(wish)
        guard holders[folded] == nil else { return false }
        holders[folded] = author
        return true
    }

    /// The holders saved by an earlier run.
    public mutating func restoreHolders(_ saved: [String: [UInt8]]) {
        for (nick, author) in saved where holders[fold(nick)] == nil { holders[fold(nick)] = author }
    }

    /// The nick to show for `author`, given the local user's nick. A nick this gateway has shown for someone stays
    /// theirs; otherwise the oldest claim in history order wins.
    public func displayNick(for author: [UInt8], localNick: String?) -> String {
        displayNick(for: author, reserved: localNick.map { [fold($0)] } ?? [])
    }

    /// `displayNick(for:localNick:)` with the nicks of every local person, folded (none of them is shown for a remote
    /// author).
    public func displayNick(for author: [UInt8], reserved: Set<String>) -> String {
        let wish = claims[author]?.nick ?? Self.fallbackNick(for: author)
        let folded = claims[author]?.folded ?? fold(wish)
        let reservedLocally = reserved.contains(folded)
        if !reservedLocally, let holder = holders[folded] {
            return holder == author ? wish : Self.suffixed(wish, author: author)
        }
        let beaten = claims.contains { other, claim in
            other != author && claim.folded == folded
                && (claim.position < (claims[author]?.position ?? claim.position) || claims[author] == nil)
        }
        return reservedLocally || beaten ? Self.suffixed(wish, author: author) : wish
    }

    /// The nick of an author who never sent a nick entry: `pear-xxxxxxxx`.
    public static func fallbackNick(for author: [UInt8]) -> String {
        "pear-" + ZBase32.encode(author).prefix(8)
    }

    static func suffixed(_ nick: String, author: [UInt8]) -> String {
        nick + "|" + ZBase32.encode(author).prefix(4)
    }
}
