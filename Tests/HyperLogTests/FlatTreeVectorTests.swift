import HyperLog
import TestVectors
import Testing

/// `flat-tree.json` (flat-tree 1.12.1): every function on indices 0–63, full roots for 0–40 blocks, index().
@Suite struct FlatTreeVectorTests {
    struct Node: Decodable {
        let index, depth, offset, parent, sibling: UInt64
        let children: [UInt64]?
        let leftChild, rightChild: Int64
        let leftSpan, rightSpan: UInt64
        let spans: [UInt64]
        let count, countLeaves, nextLeaf: UInt64
    }
    struct Roots: Decodable { let blocks: UInt64; let treeIndexEnd: UInt64; let fullRoots: [UInt64] }
    struct IndexCase: Decodable { let depth, offset, index: UInt64 }
    struct File: Decodable {
        let nodes: [Node]
        let fullRoots: [Roots]
        let index: [IndexCase]
        let iteratorParentsFrom0: [UInt64]
    }

    let file: File

    init() throws { file = try ReferenceVectors.load("flat-tree.json") }

    @Test func nodeFunctions() {
        #expect(file.nodes.count == 64)
        for node in file.nodes {
            let i = node.index
            #expect(FlatTree.depth(i) == node.depth, "depth \(i)")
            #expect(FlatTree.offset(i) == node.offset, "offset \(i)")
            #expect(FlatTree.parent(i) == node.parent, "parent \(i)")
            #expect(FlatTree.sibling(i) == node.sibling, "sibling \(i)")
            let children = FlatTree.children(i).map { [$0.left, $0.right] }
            #expect(children == node.children, "children \(i)")
            #expect(FlatTree.leftChild(i).map(Int64.init) ?? -1 == node.leftChild)
            #expect(FlatTree.rightChild(i).map(Int64.init) ?? -1 == node.rightChild)
            #expect(FlatTree.leftSpan(i) == node.leftSpan, "leftSpan \(i)")
            #expect(FlatTree.rightSpan(i) == node.rightSpan, "rightSpan \(i)")
            #expect([FlatTree.leftSpan(i), FlatTree.rightSpan(i)] == node.spans)
            #expect(FlatTree.count(i) == node.count, "count \(i)")
            #expect(FlatTree.countLeaves(i) == node.countLeaves, "countLeaves \(i)")
            #expect(FlatTree.nextLeaf(i) == node.nextLeaf, "nextLeaf \(i)")
        }
    }

    @Test func fullRoots() {
        #expect(file.fullRoots.count == 41)
        for vector in file.fullRoots {
            #expect(FlatTree.fullRoots(vector.treeIndexEnd) == vector.fullRoots, "\(vector.blocks) blocks")
            #expect(FlatTree.roots(forLength: vector.blocks) == vector.fullRoots)
        }
    }

    @Test func indexFromDepthAndOffset() {
        #expect(!file.index.isEmpty)
        for vector in file.index {
            #expect(FlatTree.index(depth: vector.depth, offset: vector.offset) == vector.index)
        }
        var walk: [UInt64] = [0]
        while walk.count < file.iteratorParentsFrom0.count { walk.append(FlatTree.parent(walk[walk.count - 1])) }
        #expect(walk == file.iteratorParentsFrom0)
    }
}
