import CompactEncoding
import Testing

@testable import SwarmEngine

/// hyperdht's NAT classification (`lib/nat.js`) from what other nodes saw: open when not firewalled; consistent when
/// one address comes back three times (or two addresses twice each); random when every node saw another port, or
/// one host with no port seen three times; unknown below three samples; one sample per node; frozen stays put.
struct HyperDHTNATClassifierTests {
    static func node(_ index: Int) -> IPv4Endpoint { IPv4Endpoint(address: 0x0a00_0000 + UInt32(index), port: 49_737) }
    static func seen(_ host: UInt32, _ port: UInt16) -> IPv4Endpoint { IPv4Endpoint(address: host, port: port) }

    static func classify(_ observations: [IPv4Endpoint], firewalled: Bool = true) -> HyperDHTNATClassifier {
        var classifier = HyperDHTNATClassifier(firewalled: firewalled)
        for (index, observed) in observations.enumerated() { classifier.add(observed: observed, from: node(index)) }
        return classifier
    }

    @Test func verdicts() {
        let host: UInt32 = 0xcb00_7107
        #expect(Self.classify([Self.seen(host, 1000)], firewalled: false).firewall == .open)
        let two = Self.classify([Self.seen(host, 1000), Self.seen(host, 1000)])
        #expect(two.firewall == .unknown && two.addresses == nil)
        let consistent = Self.classify([Self.seen(host, 1000), Self.seen(host, 1000), Self.seen(host, 1000)])
        #expect(consistent.firewall == .consistent)
        // Its addresses: those seen twice, and at least two.
        #expect(consistent.addresses == [Self.seen(host, 1000)])
        let random = Self.classify([Self.seen(host, 1000), Self.seen(host, 1001), Self.seen(host, 1002)])
        #expect(random.firewall == .random)
        #expect(random.addresses == [Self.seen(host, 0)])
        // A best of two: three samples decide nothing; one host and a fourth sample is random.
        let undecided = Self.classify([Self.seen(host, 1000), Self.seen(host, 1000), Self.seen(host, 1001)])
        #expect(undecided.firewall == .unknown)
        let oneHost = Self.classify([Self.seen(host, 1000), Self.seen(host, 1000), Self.seen(host, 1001), Self.seen(host, 1002)])
        #expect(oneHost.firewall == .random)
        // Two hosts each seen twice at one port (a dual-homed NAT): consistent, with both addresses.
        let dual = Self.classify([
            Self.seen(host, 1000), Self.seen(host + 1, 2000), Self.seen(host, 1000), Self.seen(host + 1, 2000),
        ])
        #expect(dual.firewall == .consistent)
        #expect(Set(dual.addresses ?? []) == [Self.seen(host, 1000), Self.seen(host + 1, 2000)])
        // Two hosts, only one seen twice, five samples: random.
        let five = Self.classify([
            Self.seen(host, 1000), Self.seen(host, 1000), Self.seen(host + 1, 2000), Self.seen(host + 1, 2001),
            Self.seen(host + 1, 2002),
        ])
        #expect(five.firewall == .random)
    }

    @Test func oneSamplePerNodeAndFreezing() {
        let host: UInt32 = 0xcb00_7107
        var classifier = HyperDHTNATClassifier(firewalled: true)
        for _ in 0..<5 { classifier.add(observed: Self.seen(host, 1000), from: Self.node(1)) }
        #expect(classifier.sampled == 1)
        classifier.add(observed: Self.seen(host, 1000), from: Self.node(2))
        classifier.frozen = true
        classifier.add(observed: Self.seen(host, 1000), from: Self.node(3))
        #expect(classifier.firewall == .unknown)
        classifier.frozen = false
        #expect(classifier.firewall == .consistent)
        #expect(classifier.isDecided())
    }
}
