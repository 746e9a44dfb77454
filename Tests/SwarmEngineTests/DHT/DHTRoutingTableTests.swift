import CompactEncoding
import Crypto
import Foundation
import Testing

@testable import SwarmEngine

/// The routing table against the reference's own answers: `Tests/interop/routing-table-record.js` added 300 nodes
/// (ids SHA-256 of "node<i>", ours of "self", k = 20) to the real `kademlia-routing-table` under Node and recorded
/// which adds it took, its size, the 20 it calls closest to ten targets, and removals; ours must answer the same,
/// node for node and in the same order.
struct DHTRoutingTableTests {
    static let recorded = #"""
{"added":[true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,true,false,false,true,false,true,true,true,true,false,false,false,false,false,true,true,true,false,false,false,true,false,true,false,false,true,true,false,false,false,false,false,false,false,true,false,true,false,true,false,false,false,true,true,true,false,false,true,false,true,true,false,true,false,true,false,true,true,true,false,true,false,false,false,true,true,false,true,false,false,false,true,true,false,true,false,false,true,true,true,false,false,false,false,false,false,false,false,true,false,false,false,false,false,false,false,false,true,false,true,false,true,false,false,false,false,false,false,true,true,false,false,false,false,false,true,false,false,false,false,false,true,false,false,false,false,true,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,true,false,true,false,false,false,false,false,false,false,true,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,true,false,false,false,false,false,false,false,false,false,false,true,false,false,false,false,false,false,false,false,false,false,false,false,true,false,false,false,false,false,false,false,false,false,false,false,false,false,false,false,true,false,false,false,false,true,false,false,false,false,false,false,false,false,true,false,false,false,false,false,false,false,false,false,false,false,false,false,false],"size":94,"closest":[[103,73,231,111,118,160,29,154,276,110,190,165,113,117,59,140,198,32,24,136],[45,77,5,83,89,106,99,11,96,42,25,127,148,75,39,3,13,54,95,138],[45,77,5,83,89,106,99,11,96,42,25,127,148,75,39,3,13,54,95,138],[6,26,14,7,10,18,0,28,15,38,30,1,34,8,37,4,21,16,19,33],[20,86,55,35,31,93,36,65,104,22,64,12,44,23,91,97,27,88,46,81],[6,26,14,7,10,18,0,28,15,38,30,1,34,8,37,4,21,16,19,33],[45,77,5,83,89,106,99,11,96,42,25,127,148,75,39,3,13,54,95,138],[6,26,14,7,10,18,0,28,15,38,30,1,34,8,37,4,21,16,19,33],[6,26,14,7,10,18,0,28,15,38,30,1,34,8,37,4,21,16,19,33],[20,86,55,35,31,93,36,65,104,22,64,12,44,23,91,97,27,88,46,81]],"removed":[true,true,true],"sizeAfter":91,"ownRow":[147,103,73,231,111]}
"""#

    struct Recorded: Decodable {
        let added: [Bool]
        let size: Int
        let closest: [[Int]]
        let removed: [Bool]
        let sizeAfter: Int
        let ownRow: [Int]
    }

    static func id(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Data(text.utf8))) }

    @Test func itAnswersAsTheReferenceTable() throws {
        let expected = try JSONDecoder().decode(Recorded.self, from: Data(Self.recorded.utf8))
        var table = DHTRoutingTable(id: Self.id("self"))
        var indexOf: [[UInt8]: Int] = [:]
        for index in 0..<300 {
            let nodeID = Self.id("node\(index)")
            indexOf[nodeID] = index
            let result = table.add(DHTContact(id: nodeID, endpoint: IPv4Endpoint(address: UInt32(index), port: 1)))
            #expect((result == .added) == expected.added[index], "node \(index): \(result)")
        }
        #expect(table.count == expected.size)
        for target in 0..<10 {
            let closest = table.closest(to: Self.id("target\(target)")).map { indexOf[$0.id]! }
            #expect(closest == expected.closest[target], "target \(target)")
        }
        #expect([0, 5, 17].map { table.remove(Self.id("node\($0)")) != nil } == expected.removed)
        #expect(table.count == expected.sizeAfter)
        #expect(table.closest(to: Self.id("self"), count: 5).map { indexOf[$0.id]! } == expected.ownRow)
    }

    @Test func rowsHoldAtMostKNodesSortedAndFullRowsSaySo() {
        var table = DHTRoutingTable(id: Self.id("self"), k: 4)
        var full = 0
        for index in 0..<200 {
            let node = DHTContact(id: Self.id("n\(index)"), endpoint: IPv4Endpoint(address: UInt32(index), port: 2))
            if case .rowFull(let row) = table.add(node) {
                full += 1
                #expect(row == table.row(of: node.id))
                #expect(table.nodes(inRow: row).count == 4)
            }
        }
        #expect(full > 0)
        for row in 0..<256 {
            let nodes = table.nodes(inRow: row)
            #expect(nodes.count <= 4)
            #expect(nodes.allSatisfy { table.row(of: $0.id) == row })
            #expect(zip(nodes, nodes.dropFirst()).allSatisfy { $0.id.lexicographicallyPrecedes($1.id) })
        }
        // Adding a known id again updates it in place.
        let first = table.allNodes[0]
        var moved = first
        moved.endpoint = IPv4Endpoint(address: 99, port: 99)
        #expect(table.add(moved) == .updated)
        #expect(table.node(first.id)?.endpoint == moved.endpoint)
        #expect(table.row(of: table.id) == 255)
    }
}
