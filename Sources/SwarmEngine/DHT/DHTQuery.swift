import CompactEncoding

/// One iterative dht-rpc query (dht-rpc 6.26 `lib/query.js`): walks toward `target` by asking the closest nodes it
/// knows, learning closer ones from each reply, until every node that could be among the `k` closest has answered
/// or failed. Keeps the `k` closest replies that came with a valid id (sorted by XOR distance to the target), asks
/// at most `concurrency` nodes at once (3 while it "slows down" after starting from cached nodes, plus one for every
/// request that is past its first timeout), and tells the nodes that referred a node that timed out (DOWN_HINT).
///
/// Pure: the caller sends each `visit` as a request (through `DHTRequestTable`, with `retries` retries) and reports
/// its reply, its first timeout (`cycled`) and its failure; the query says what to do next.
public struct DHTQuery: Sendable {
    public struct Reply: Sendable, Equatable {
        public var from: IPv4Endpoint
        public var id: [UInt8]?
        public var response: DHTResponse
    }

    public enum Effect: Sendable, Equatable {
        /// Ask this node (`id` when known, for the closeness check).
        case visit(IPv4Endpoint)
        /// Tell `to` that `down`, which it referred us to, did not answer.
        case downHint(to: IPv4Endpoint, down: IPv4Endpoint)
        /// A successful reply, for the caller (LOOKUP's peers, a value, …).
        case reply(Reply)
        /// The walk is over: these are the closest replies (for the commit: ANNOUNCE to each with its token).
        case finished([Reply])
    }

    private enum Seen: Sendable {
        /// Queued or asked; the nodes that referred it.
        case referred([IPv4Endpoint])
        case done
        case down
    }

    private struct Candidate: Sendable {
        var endpoint: IPv4Endpoint
        var id: [UInt8]
    }

    public let target: [UInt8]
    public let k: Int
    /// Requests at once; a background walk raises and lowers it with the node's other traffic.
    public var concurrency: Int
    /// Retries per request (5; 3 for DOWN_HINT queries).
    public let retries: Int
    public private(set) var closestReplies: [Reply] = []
    public private(set) var successes = 0
    public private(set) var errors = 0
    public private(set) var isFinished = false
    private var seen: [IPv4Endpoint: Seen] = [:]
    private var pending: [Candidate] = []
    private var inflight = 0
    private var slow = 0
    private var cycled: Set<IPv4Endpoint> = []
    private var slowdown = false
    private var fromTable = false
    private let ownID: [UInt8]

    public init(target: [UInt8], ownID: [UInt8], k: Int = 20, concurrency: Int = 10, retries: Int = 5) {
        self.target = target
        self.ownID = ownID
        self.k = k
        self.concurrency = concurrency
        self.retries = retries
    }

    /// Starts from our table's closest nodes and, when they are fewer than `k`, the bootstrap nodes.
    public mutating func start(table: [DHTContact], bootstrap: [IPv4Endpoint]) -> [Effect] {
        addFromTable(table)
        if pending.count < k {
            for endpoint in bootstrap { _ = addPending(Candidate(endpoint: endpoint, id: DHTNodeID.of(endpoint)), referrer: nil) }
        }
        return readMore(table: table)
    }

    /// A reply from a node we asked. `id` is the id it sent, already checked against its address (nil when absent or
    /// not its own).
    public mutating func received(
        _ response: DHTResponse, from endpoint: IPv4Endpoint, id: [UInt8]?, table: [DHTContact]
    ) -> [Effect] {
        guard !isFinished else { return [] }
        settle(endpoint)
        seen[endpoint] = .done
        var effects: [Effect] = []
        if response.error == 0 { successes += 1 } else { errors += 1 }
        let reply = Reply(from: endpoint, id: id, response: response)
        if response.error == 0, let id, isCloser(id) { pushClosest(reply, id: id) }
        for node in response.closerNodes ?? [] {
            let nodeID = DHTNodeID.of(node)
            if nodeID == ownID { continue }
            let (closer, hints) = addPending(Candidate(endpoint: node, id: nodeID), referrer: endpoint)
            effects += hints
            // As the reference: the rest of the list is farther still.
            if !closer { break }
        }
        if !fromTable, successes + errors >= concurrency { slowdown = false }
        if response.error == 0 { effects.append(.reply(reply)) }
        return effects + readMore(table: table)
    }

    /// A request's first timeout (it is being sent again): it no longer holds a slot.
    public mutating func cycled(_ endpoint: IPv4Endpoint, table: [DHTContact]) -> [Effect] {
        guard !isFinished, !cycled.contains(endpoint) else { return [] }
        cycled.insert(endpoint)
        slow += 1
        return readMore(table: table)
    }

    /// A request that failed: `timedOut` marks the node down and hints the nodes that referred it.
    public mutating func failed(_ endpoint: IPv4Endpoint, timedOut: Bool, table: [DHTContact]) -> [Effect] {
        guard !isFinished else { return [] }
        var effects: [Effect] = []
        if timedOut {
            if case .referred(let referrers)? = seen[endpoint] {
                effects += referrers.map { .downHint(to: $0, down: endpoint) }
            }
            seen[endpoint] = .down
        }
        settle(endpoint)
        errors += 1
        return effects + readMore(table: table)
    }

    /// The closest nodes that replied, for the caller's next query toward the same target.
    public var closestNodes: [IPv4Endpoint] { closestReplies.map(\.from) }

    // MARK: - The walk

    private mutating func settle(_ endpoint: IPv4Endpoint) {
        inflight -= 1
        if cycled.remove(endpoint) != nil { slow -= 1 }
    }

    private mutating func addFromTable(_ table: [DHTContact]) {
        guard pending.count < k else { return }
        fromTable = true
        for node in table.prefix(k - pending.count) {
            _ = addPending(Candidate(endpoint: node.endpoint, id: node.id), referrer: nil)
        }
    }

    private mutating func readMore(table: [DHTContact]) -> [Effect] {
        guard !isFinished else { return [] }
        var effects: [Effect] = []
        let limit = (slowdown ? 3 : concurrency) + slow
        while inflight < limit, let next = pending.popLast() {
            guard isCloser(next.id) else { continue }
            inflight += 1
            effects.append(.visit(next.endpoint))
        }
        if !fromTable, successes == 0, errors == 0 { slowdown = true }
        guard pending.isEmpty else { return effects }
        if inflight == 0 || (slow == inflight && closestReplies.count >= k) {
            // Cached nodes that mostly failed: try again from the routing table.
            if !fromTable, successes < k / 4 {
                addFromTable(table)
                return effects + readMore(table: table)
            }
            isFinished = true
            effects.append(.finished(closestReplies))
        }
        return effects
    }

    private func isCloser(_ id: [UInt8]) -> Bool {
        guard closestReplies.count >= k, let farthest = closestReplies.last?.id else { return true }
        return compare(id, farthest) < 0
    }

    /// Queues a node unless it was seen; returns whether it is closer than our current k-th, and the down hints
    /// owed when it is known to be down.
    private mutating func addPending(_ candidate: Candidate, referrer: IPv4Endpoint?) -> (Bool, [Effect]) {
        let closer = isCloser(candidate.id)
        switch seen[candidate.endpoint] {
        case .done?:
            return (closer, [])
        case .down?:
            return (closer, referrer.map { [.downHint(to: $0, down: candidate.endpoint)] } ?? [])
        case .referred(var referrers)?:
            if let referrer {
                referrers.append(referrer)
                seen[candidate.endpoint] = .referred(referrers)
            }
            return (closer, [])
        case nil:
            guard closer else { return (false, []) }
            seen[candidate.endpoint] = .referred(referrer.map { [$0] } ?? [])
            pending.append(candidate)
            return (true, [])
        }
    }

    private mutating func pushClosest(_ reply: Reply, id: [UInt8]) {
        closestReplies.append(reply)
        var index = closestReplies.count - 2
        while index >= 0 {
            let previous = closestReplies[index]
            let order = compare(previous.id ?? [], id)
            if order < 0 { break }
            if order == 0 {
                closestReplies.remove(at: index + 1)
                break
            }
            closestReplies[index + 1] = previous
            closestReplies[index] = reply
            index -= 1
        }
        if closestReplies.count > k { closestReplies.removeLast() }
    }

    /// XOR distance order to the target, as the reference's `_compare`.
    private func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        for index in 0..<min(a.count, b.count, target.count) where a[index] != b[index] {
            return Int(target[index] ^ a[index]) - Int(target[index] ^ b[index])
        }
        return 0
    }
}
