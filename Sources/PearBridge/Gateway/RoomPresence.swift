/// Which remote authors a room shows as members right now, and which writer each connection said was its own in
/// the room (so a connection's end can make its person leave).
struct RoomPresence: Sendable {
    private(set) var present = Set<[UInt8]>()
    private var ownerByConnection: [GatewayState.ConnectionID: [UInt8]] = [:]

    /// Returns whether the author was not shown before.
    mutating func show(_ author: [UInt8]) -> Bool { present.insert(author).inserted }

    /// Returns whether the author was shown.
    mutating func hide(_ author: [UInt8]) -> Bool { present.remove(author) != nil }

    func isShown(_ author: [UInt8]) -> Bool { present.contains(author) }

    /// Shown authors in a stable order.
    var sorted: [[UInt8]] { present.sorted { $0.lexicographicallyPrecedes($1) } }

    mutating func connection(_ id: GatewayState.ConnectionID, owns writer: [UInt8]) {
        ownerByConnection[id] = writer
    }

    /// Whether any connection still claims `writer` as its own.
    func isClaimed(_ writer: [UInt8]) -> Bool { ownerByConnection.values.contains(writer) }

    /// The connections that claim `writer`.
    func claimants(of writer: [UInt8]) -> [GatewayState.ConnectionID] {
        ownerByConnection.filter { $0.value == writer }.map(\.key)
    }

    /// The writer the connection claimed (in its hello), forgotten with the connection.
    mutating func connectionEnded(_ id: GatewayState.ConnectionID) -> [UInt8]? {
        ownerByConnection.removeValue(forKey: id)
    }
}
