import CompactEncoding

/// A node in a dht-rpc routing table (a contact: what we know of another node), with the liveness bookkeeping dht-rpc keeps on it (in ticks of its 5 s clock):
/// when it was added, when we last pinged it and last heard from it, and how many DOWN_HINTs named it.
public struct DHTContact: Sendable, Equatable {
    public var id: [UInt8]
    public var endpoint: IPv4Endpoint
    public var added: UInt64
    public var pinged: UInt64
    public var seen: UInt64
    public var downHints: Int = 0
    /// When its view of our address last went into the NAT sampler (nil: never).
    public var sampled: UInt64?

    public init(id: [UInt8], endpoint: IPv4Endpoint, added: UInt64 = 0, pinged: UInt64 = 0, seen: UInt64 = 0) {
        self.id = id
        self.endpoint = endpoint
        self.added = added
        self.pinged = pinged
        self.seen = seen
    }
}

/// dht-rpc's routing table (`kademlia-routing-table` 1.0.6): one row per bit of the 256-bit id, row `i` holding
/// nodes whose id first differs from ours at bit `i`, each row sorted by id and holding at most `k` (20). A full row
/// refuses a new node (`add` says so); dht-rpc then pings the row's oldest node and swaps it out if it is gone.
///
/// `closest` answers as the reference does, not by exact XOR order: the target's row, then the rows below it (nodes
/// that differ from us earlier), then the rows above, each in id order, until `k`. A pure value.
public struct DHTRoutingTable: Sendable {
    public enum Addition: Sendable, Equatable {
        case added
        /// A node with this id was there: replaced (address and bookkeeping as given).
        case updated
        /// Its row already holds `k` nodes: refused. The row's index, for the caller's swap check.
        case rowFull(Int)
    }

    public let id: [UInt8]
    public let k: Int
    private var rows: [[DHTContact]]
    public private(set) var count = 0

    public init(id: [UInt8], k: Int = 20) {
        self.id = id
        self.k = k
        rows = Array(repeating: [], count: id.count * 8)
    }

    /// The row of `other`: the index of the first bit where it differs from our id (the last row for our own id).
    public func row(of other: [UInt8]) -> Int {
        for index in 0..<min(id.count, other.count) where id[index] != other[index] {
            return index * 8 + (id[index] ^ other[index]).leadingZeroBitCount
        }
        return rows.count - 1
    }

    public mutating func add(_ node: DHTContact) -> Addition {
        let index = row(of: node.id)
        let (position, found) = locate(node.id, inRow: index)
        if found {
            rows[index][position] = node
            return .updated
        }
        guard rows[index].count < k else { return .rowFull(index) }
        rows[index].insert(node, at: position)
        count += 1
        return .added
    }

    @discardableResult
    public mutating func remove(_ nodeID: [UInt8]) -> DHTContact? {
        let index = row(of: nodeID)
        let (position, found) = locate(nodeID, inRow: index)
        guard found else { return nil }
        count -= 1
        return rows[index].remove(at: position)
    }

    public func node(_ nodeID: [UInt8]) -> DHTContact? {
        let index = row(of: nodeID)
        let (position, found) = locate(nodeID, inRow: index)
        return found ? rows[index][position] : nil
    }

    /// Changes a node's bookkeeping in place (no-op when it is not in the table).
    public mutating func update(_ nodeID: [UInt8], _ change: (inout DHTContact) -> Void) {
        let index = row(of: nodeID)
        let (position, found) = locate(nodeID, inRow: index)
        guard found else { return }
        change(&rows[index][position])
    }

    public func nodes(inRow index: Int) -> [DHTContact] { rows[index] }

    /// Up to `k` nodes near `target`, in the reference's order (see the type's comment).
    public func closest(to target: [UInt8], count wanted: Int? = nil) -> [DHTContact] {
        let limit = wanted ?? k
        var result: [DHTContact] = []
        result.reserveCapacity(min(limit, count))
        let start = row(of: target)
        var index = start
        while index >= 0, result.count < limit {
            result += rows[index].prefix(limit - result.count)
            index -= 1
        }
        index = start + 1
        while index < rows.count, result.count < limit {
            result += rows[index].prefix(limit - result.count)
            index += 1
        }
        return result
    }

    /// Every node, nearest rows first.
    public var allNodes: [DHTContact] { closest(to: id, count: count) }

    /// The node at `offset` counting through the rows in order (the reference's `random` given its random number).
    public func node(atOffset offset: Int) -> DHTContact? {
        var remaining = offset
        for row in rows {
            if remaining < row.count { return row[remaining] }
            remaining -= row.count
        }
        return nil
    }

    /// Binary search in a row sorted by id bytes (compared from the row's first differing byte on, as the
    /// reference: the bytes before it are ours in every id of the row).
    private func locate(_ nodeID: [UInt8], inRow index: Int) -> (position: Int, found: Bool) {
        let nodes = rows[index]
        var low = 0
        var high = nodes.count - 1
        while low <= high {
            let middle = (low + high) >> 1
            let order = Self.compare(nodeID, nodes[middle].id, from: index >> 3)
            if order == 0 { return (middle, true) }
            if order < 0 { high = middle - 1 } else { low = middle + 1 }
        }
        return (low, false)
    }

    private static func compare(_ a: [UInt8], _ b: [UInt8], from start: Int) -> Int {
        var index = start
        while index < a.count, index < b.count {
            if a[index] != b[index] { return a[index] < b[index] ? -1 : 1 }
            index += 1
        }
        return 0
    }
}
