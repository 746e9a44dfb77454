import CompactEncoding
import SwarmEngine
import TestVectors
import Testing

/// The iterative query on a simulated network of 400 nodes, each with a real routing table (k = 20) filled from
/// the others: starting from one bootstrap node, the walk ends with exactly the 20 live nodes closest to the target
/// by XOR, however many nodes are dead; a dead node is reported to every node that referred us to it; replies and
/// visits stay bounded by the concurrency.
struct DHTQueryTests {
    struct Network {
        var nodes: [IPv4Endpoint: DHTRoutingTable] = [:]
        var dead: Set<IPv4Endpoint> = []

        init(count: Int, deadShare: Double, seed: UInt64) {
            var random = SeededGenerator(seed: seed)
            var endpoints: [IPv4Endpoint] = []
            for index in 0..<count {
                let address: UInt32 = 0x0a00_0000 | UInt32(index * 7 + 1)
                endpoints.append(IPv4Endpoint(address: address, port: UInt16(40_000 + index % 1000)))
            }
            for endpoint in endpoints {
                var table = DHTRoutingTable(id: DHTNodeID.of(endpoint))
                for other in endpoints.shuffled(using: &random) where other != endpoint {
                    _ = table.add(DHTContact(id: DHTNodeID.of(other), endpoint: other))
                }
                nodes[endpoint] = table
            }
            for endpoint in endpoints.dropFirst() where Double.random(in: 0..<1, using: &random) < deadShare {
                dead.insert(endpoint)
            }
        }

        /// The `k` live nodes closest to `target` by XOR.
        func closestLive(to target: [UInt8], k: Int) -> [IPv4Endpoint] {
            nodes.keys.filter { !dead.contains($0) }.sorted {
                let a = DHTNodeID.of($0), b = DHTNodeID.of($1)
                for index in 0..<32 where a[index] != b[index] {
                    return (a[index] ^ target[index]) < (b[index] ^ target[index])
                }
                return false
            }.prefix(k).map { $0 }
        }
    }

    /// Runs a query to the end, answering visits in the order they were asked.
    static func walk(_ network: Network, target: [UInt8]) -> (closest: [IPv4Endpoint], hints: [(IPv4Endpoint, IPv4Endpoint)], visits: Int, maxInFlight: Int) {
        let us = IPv4Endpoint(address: 0xc0a8_0001, port: 1)
        var query = DHTQuery(target: target, ownID: DHTNodeID.of(us))
        let bootstrap = network.nodes.keys.sorted { $0.address < $1.address }[0]
        var queue: [IPv4Endpoint] = []
        var hints: [(IPv4Endpoint, IPv4Endpoint)] = []
        var finished: [DHTQuery.Reply]?
        var visits = 0
        var maxInFlight = 0
        func apply(_ effects: [DHTQuery.Effect]) {
            for effect in effects {
                switch effect {
                case .visit(let endpoint):
                    visits += 1
                    queue.append(endpoint)
                case .downHint(let to, let down): hints.append((to, down))
                case .reply: break
                case .finished(let replies): finished = replies
                }
            }
            maxInFlight = max(maxInFlight, queue.count)
        }
        apply(query.start(table: [], bootstrap: [bootstrap]))
        while !queue.isEmpty, finished == nil {
            let endpoint = queue.removeFirst()
            if network.dead.contains(endpoint) {
                apply(query.cycled(endpoint, table: []))
                apply(query.failed(endpoint, timedOut: true, table: []))
                continue
            }
            let table = network.nodes[endpoint]!
            let response = DHTResponse(
                tid: 0, to: us, id: table.id, closerNodes: table.closest(to: target).map(\.endpoint))
            apply(query.received(response, from: endpoint, id: table.id, table: []))
        }
        return ((finished ?? []).map(\.from), hints, visits, maxInFlight)
    }

    @Test(arguments: [0.0, 0.1, 0.3])
    func theWalkEndsWithTheTwentyClosestLiveNodes(deadShare: Double) {
        let network = Network(count: 400, deadShare: deadShare, seed: 17)
        for seed in 0..<5 {
            let target = DHTNodeID.of(IPv4Endpoint(address: UInt32(0xab00_0000 + seed), port: 7))
            let result = Self.walk(network, target: target)
            #expect(result.closest == network.closestLive(to: target, k: 20), "dead share \(deadShare), target \(seed)")
            // Far fewer than the whole network is asked, and never more than the concurrency (plus slow ones) at once.
            #expect(result.visits < 200)
            #expect(result.maxInFlight <= 10 + 1)
            for (to, down) in result.hints {
                #expect(network.dead.contains(down) && !network.dead.contains(to))
            }
            if deadShare > 0 { #expect(!result.hints.isEmpty) }
        }
    }
}
