import Testing

@testable import SwarmEngine

/// xache's aging, which bounds what a node keeps for others (routes, bumps, refresh tokens): an entry neither set nor
/// read lives between ⅔ and 4⁄3 of the maximum age; reading an older entry renews it; a newer generation reaching the
/// size cap ages at once (and the next timed aging is skipped), so the cache never holds more than twice the cap.
struct DHTAgingCacheTests {
    @Test func entriesAgeOutInTwoGenerations() {
        var cache = DHTAgingCache<Int, String>(maximumSize: 100, maximumAge: 300, now: 0)
        cache.set(1, "one", now: 0)
        cache.set(2, "two", now: 0)
        // First aging at 200 (⅔ of 300): both move to the older generation, still readable.
        cache.age(now: 200)
        #expect(cache.count == 2)
        // Reading 1 renews it; 2 is dropped at the second aging (400).
        #expect(cache.get(1, now: 250) == "one")
        cache.age(now: 400)
        #expect(cache.get(2, now: 400) == nil)
        #expect(cache.get(1, now: 400) == "one")
        // A long silence empties it.
        cache.age(now: 10_000)
        #expect(cache.count == 0)
        cache.set(3, "three", now: 10_000)
        #expect(cache.remove(3) == "three")
        #expect(cache.count == 0)
    }

    @Test func theSizeCapBoundsMemory() {
        var cache = DHTAgingCache<Int, Int>(maximumSize: 1000, maximumAge: 1_000_000, now: 0)
        for key in 0..<100_000 {
            cache.set(key, key, now: 0)
            #expect(cache.count < 2000)
        }
        // The newest entries are kept.
        #expect(cache.get(99_999, now: 0) == 99_999)
        #expect(cache.get(0, now: 0) == nil)
    }

    @Test func aSizeAgingSkipsTheNextTimedOne() {
        var cache = DHTAgingCache<Int, Int>(maximumSize: 2, maximumAge: 300, now: 0)
        cache.set(1, 1, now: 10)
        cache.set(2, 2, now: 10)  // reaches the cap: aged at once
        cache.set(3, 3, now: 20)
        // The timed aging at 200 is skipped (xache's `_gcAuto`), so 1 and 2 survive it...
        cache.age(now: 200)
        #expect(cache.get(1, now: 200) == 1)
        // ...and the next one (400) ages normally.
        cache.age(now: 400)
        #expect(cache.get(2, now: 400) == nil)
    }
}
