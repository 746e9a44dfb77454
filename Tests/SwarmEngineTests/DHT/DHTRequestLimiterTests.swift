import CompactEncoding
import SwarmEngine
import Testing

/// Per-sender limits on what a node answers: a flood from one address gets its burst and then its rate, other
/// senders are untouched, and a flood from many addresses keeps the table of senders at its bound.
struct DHTRequestLimiterTests {
    @Test func aFloodFromOneAddressGetsItsBurstThenItsRate() {
        var limiter = DHTRequestLimiter(rate: 100, burst: 200)
        let flooder = IPv4Endpoint(address: 0x0a00_0001, port: 4000)
        let honest = IPv4Endpoint(address: 0x0a00_0002, port: 4000)
        var answered = 0
        // 10,000 requests within one second: the burst, plus what a second's rate adds.
        for index in 0..<10_000 where limiter.allows(flooder, now: UInt64(index / 10)) { answered += 1 }
        #expect(answered >= 200 && answered <= 300)
        #expect(limiter.dropped == 10_000 - answered)
        let honestAnswered = limiter.allows(honest, now: 999)
        #expect(honestAnswered)
        // After a quiet second the flooder's bucket has refilled by the rate.
        var later = 0
        for _ in 0..<1000 where limiter.allows(flooder, now: 2_000) { later += 1 }
        #expect(later >= 100 && later <= 200)
    }

    @Test func aFloodFromManyAddressesStaysBounded() {
        var limiter = DHTRequestLimiter(maximumSenders: 1000)
        for index in 0..<50_000 {
            _ = limiter.allows(IPv4Endpoint(address: UInt32(index), port: 1), now: UInt64(index))
            #expect(limiter.senderCount <= 1000)
        }
    }
}
