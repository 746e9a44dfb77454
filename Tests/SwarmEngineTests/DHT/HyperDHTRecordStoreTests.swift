import CompactEncoding
import SwarmEngine
import TestVectors
import Testing

/// What a persistent node stores for others: announces per target with the reference's two-generation aging (gone
/// between ⅔ and 4⁄3 of 20 minutes unless renewed), relay addresses cut to three, a per-target cap and a total cap
/// that keep memory bounded, and mutable values with hyperdht's seq rules.
struct HyperDHTRecordStoreTests {
    static let target = [UInt8](repeating: 0xcd, count: 32)

    static func peer(_ index: Int, relays: Int = 1) -> HyperDHTPeer {
        HyperDHTPeer(
            publicKey: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 31) + [UInt8(index >> 8)],
            relayAddresses: (0..<relays).map { IPv4Endpoint(address: 0x0a00_0000 | UInt32($0), port: 49737) })
    }

    @Test func announcedPeersAreFoundUntilTheyAgeOutUnlessRenewed() {
        var store = HyperDHTRecordStore(now: 0)
        var random = SeededGenerator(seed: 3)
        let result1 = store.announce(Self.peer(1, relays: 5), under: Self.target, now: 0)
        #expect(result1)
        let result2 = store.announce(Self.peer(2), under: Self.target, now: 0)
        #expect(result2)
        let found = store.lookup(Self.target, now: 1, using: &random)
        #expect(Set(found.map(\.publicKey)) == [Self.peer(1).publicKey, Self.peer(2).publicKey])
        #expect(found.first { $0.publicKey == Self.peer(1).publicKey }?.relayAddresses.count == 3)

        // Agings every ⅔ of 20 min: the first keeps both as the older generation; peer 2 renews; the second drops
        // peer 1; peer 2, renewed just after the first, goes at the third.
        let third: UInt64 = 800_000
        let result3 = store.lookup(Self.target, now: third, using: &random)
        #expect(result3.count == 2)
        store.announce(Self.peer(2), under: Self.target, now: third + 1)
        let result4 = store.lookup(Self.target, now: 2 * third, using: &random)
        #expect(result4.map(\.publicKey) == [Self.peer(2).publicKey])
        let result5 = store.lookup(Self.target, now: 3 * third - 1, using: &random)
        #expect(result5.map(\.publicKey) == [Self.peer(2).publicKey])
        let result6 = store.lookup(Self.target, now: 3 * third, using: &random)
        #expect(result6.isEmpty)
        #expect(store.recordCount == 0)

        store.announce(Self.peer(3), under: Self.target, now: 4 * third)
        store.unannounce(Self.peer(3).publicKey, under: Self.target)
        let result7 = store.lookup(Self.target, now: 4 * third, using: &random)
        #expect(result7.isEmpty)
    }

    @Test func capsKeepTheStoreBounded() {
        var limits = HyperDHTRecordStore.Limits()
        limits.maximumRecords = 100
        var store = HyperDHTRecordStore(limits: limits, now: 0)
        var random = SeededGenerator(seed: 9)
        for index in 0..<64 {
            let taken = store.announce(Self.peer(index), under: Self.target, now: 0)
            #expect(taken)
        }
        // One target holds at most 64; a known peer still renews.
        let result8 = store.announce(Self.peer(64), under: Self.target, now: 0)
        #expect(!result8)
        let result9 = store.announce(Self.peer(5), under: Self.target, now: 0)
        #expect(result9)
        let result10 = store.lookup(Self.target, now: 0, using: &random)
        #expect(result10.count == 20)
        let result11 = store.lookup(Self.target, count: 100, now: 0, using: &random)
        #expect(result11.count == 64)
        // A flood over many targets: never more than two generations of the cap.
        for index in 0..<5_000 {
            var target = [UInt8](repeating: 0, count: 32)
            target[0] = UInt8(truncatingIfNeeded: index)
            target[1] = UInt8(index >> 8)
            store.announce(Self.peer(index), under: target, now: 0)
            #expect(store.recordCount <= 2 * limits.maximumRecords + 1)
        }
    }

    @Test func mutableValuesFollowTheSeqRules() throws {
        var store = HyperDHTRecordStore(now: 0)
        let signature = [UInt8](repeating: 7, count: 64)
        try store.putMutable(HyperDHTMutableRecord(seq: 4, value: Array("hello".utf8), signature: signature), at: Self.target, now: 0)
        #expect(throws: HyperDHTRecordStore.MutableRefusal.seqReused) {
            try store.putMutable(HyperDHTMutableRecord(seq: 4, value: Array("other".utf8), signature: signature), at: Self.target, now: 1)
        }
        #expect(throws: HyperDHTRecordStore.MutableRefusal.seqTooLow) {
            try store.putMutable(HyperDHTMutableRecord(seq: 3, value: Array("older".utf8), signature: signature), at: Self.target, now: 1)
        }
        // The same seq with the same value is fine (a retry).
        try store.putMutable(HyperDHTMutableRecord(seq: 4, value: Array("hello".utf8), signature: signature), at: Self.target, now: 1)
        try store.putMutable(HyperDHTMutableRecord(seq: 5, value: Array("newer".utf8), signature: signature), at: Self.target, now: 2)
        let result12 = store.mutable(at: Self.target, minimumSeq: 5, now: 3)
        #expect(result12?.value == Array("newer".utf8))
        let result13 = store.mutable(at: Self.target, minimumSeq: 6, now: 3)
        #expect(result13 == nil)

        let value = Array("immutable value".utf8)
        let target = HyperDHTSignatures.immutableTarget(value)
        store.putImmutable(value, at: target, now: 3)
        let result14 = store.immutable(at: target, now: 4)
        #expect(result14 == value)
        // Values last 48 hours (between ⅔ and 4⁄3 of it).
        let third: UInt64 = 32 * 60 * 60 * 1000
        let result15 = store.immutable(at: target, now: 2 * third - 1)
        #expect(result15 == value)
        let result16 = store.immutable(at: target, now: 2 * third)
        #expect(result16 == nil)
    }
}
