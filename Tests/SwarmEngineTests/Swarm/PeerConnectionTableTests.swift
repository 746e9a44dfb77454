import Testing

@testable import SwarmEngine

@Suite struct PeerConnectionTableTests {
    static let low = Array(repeating: UInt8(1), count: 32)
    static let high = Array(repeating: UInt8(9), count: 32)
    static let now = ContinuousClock.now

    typealias Connection = PeerConnectionTable.Connection

    /// Two gateways dialled each other at once: each holds one connection it dialled and one it accepted. Both must keep
    /// the same one (the one dialled by the larger key, as Hyperswarm), whichever finished its handshake first on
    /// either side.
    @Test(arguments: [true, false])
    func simultaneousDialsKeepTheSameConnectionOnBothSides(lowSeesItsOwnDialFirst: Bool) {
        // Connection 1 is dialled by `low`, connection 2 by `high`. IDs are per side; the ends are named by dialler.
        var lowSide = PeerConnectionTable(localKey: Self.low)
        var highSide = PeerConnectionTable(localKey: Self.high)
        let lowDialled = Connection(id: 1, remoteKey: Self.high, isInitiator: true)
        let highDialledSeenByLow = Connection(id: 2, remoteKey: Self.high, isInitiator: false)
        let order = lowSeesItsOwnDialFirst ? [lowDialled, highDialledSeenByLow] : [highDialledSeenByLow, lowDialled]
        let lowDecisions = order.map { lowSide.established($0, now: Self.now) }
        // On the high side: connection 1 arrives as accepted, connection 2 as dialled (in the opposite order).
        let highOrder = [Connection(id: 2, remoteKey: Self.low, isInitiator: true), Connection(id: 1, remoteKey: Self.low, isInitiator: false)]
        let highDecisions = (lowSeesItsOwnDialFirst ? highOrder : highOrder.reversed()).map { highSide.established($0, now: Self.now) }
        #expect(lowSide.connection(to: Self.high) == 2)
        #expect(highSide.connection(to: Self.low) == 2)
        #expect(lowDecisions.first == .keep && highDecisions.first == .keep)
        #expect(Set(lowDecisions + highDecisions).isSubset(of: [.keep, .replace(1), .refuse(.duplicate(of: 2))]))
    }

    /// At the cap (Hyperswarm's `maxPeers`), a new peer is refused; a peer already connected still reconnects, and
    /// once a peer leaves there is room again.
    @Test func newPeersBeyondTheCapAreRefused() {
        var table = PeerConnectionTable(localKey: Self.low, maximumPeers: 2)
        let keys = (2...4).map { Array(repeating: UInt8($0), count: 32) }
        #expect(table.established(Connection(id: 1, remoteKey: keys[0], isInitiator: true), now: Self.now) == .keep)
        #expect(table.established(Connection(id: 2, remoteKey: keys[1], isInitiator: true), now: Self.now) == .keep)
        #expect(!table.hasRoom)
        #expect(table.established(Connection(id: 3, remoteKey: keys[2], isInitiator: false), now: Self.now) == .refuse(.full))
        #expect(table.established(Connection(id: 4, remoteKey: keys[0], isInitiator: true), now: Self.now) == .replace(1))
        table.closed(2, remoteKey: keys[1])
        #expect(table.established(Connection(id: 5, remoteKey: keys[2], isInitiator: false), now: Self.now) == .keep)
    }

    @Test func aReconnectInTheSameDirectionReplacesTheOldConnection() {
        var table = PeerConnectionTable(localKey: Self.low)
        #expect(table.established(.init(id: 1, remoteKey: Self.high, isInitiator: false), now: Self.now) == .keep)
        #expect(table.established(.init(id: 2, remoteKey: Self.high, isInitiator: false), now: Self.now) == .replace(1))
        // The old one's close does not forget the new one.
        table.closed(1, remoteKey: Self.high)
        #expect(table.connection(to: Self.high) == 2)
        table.closed(2, remoteKey: Self.high)
        #expect(!table.isConnected(Self.high))
    }

    @Test func bannedPeersAndOurselvesAreRefusedUntilTheBanEnds() {
        var table = PeerConnectionTable(localKey: Self.low)
        #expect(table.established(.init(id: 1, remoteKey: Self.low, isInitiator: true), now: Self.now) == .refuse(.ownKey))
        #expect(table.established(.init(id: 2, remoteKey: Self.high, isInitiator: true), now: Self.now) == .keep)
        let until = Self.now + .seconds(60)
        #expect(table.ban(Self.high, until: until) == 2)
        #expect(table.established(.init(id: 3, remoteKey: Self.high, isInitiator: true), now: Self.now + .seconds(59))
            == .refuse(.banned(until: until)))
        table.closed(2, remoteKey: Self.high)
        #expect(table.established(.init(id: 4, remoteKey: Self.high, isInitiator: true), now: Self.now + .seconds(61)) == .keep)
        #expect(table.banExpiry(Self.high, now: Self.now + .seconds(61)) == nil)
    }
}

@Suite struct RetryScheduleTests {
    @Test(arguments: [
        (0, 0.0, 1_000), (1, 0.0, 2_000), (3, 0.0, 8_000), (10, 0.0, 60_000), (1, 1.0, 2_400), (10, 1.0, 60_000), (-3, 0.0, 1_000),
    ])
    func delays(failures: Int, random: Double, milliseconds: Int64) {
        #expect(RetrySchedule().delay(afterFailures: failures, random: random) == .milliseconds(milliseconds))
    }
}

@Suite struct PeerAddressTests {
    @Test(arguments: [
        ("127.0.0.1:7070", PeerAddress(host: "127.0.0.1", port: 7070)),
        ("[::1]:80", PeerAddress(host: "::1", port: 80)),
        ("example.test:1", PeerAddress(host: "example.test", port: 1)),
    ])
    func parses(_ text: String, _ expected: PeerAddress) {
        #expect(PeerAddress(parsing: text) == expected)
        #expect(PeerAddress(parsing: expected.description) == expected)
    }

    @Test(arguments: ["", "host", ":80", "host:0", "host:65536", "host:x", "[]:80"])
    func refuses(_ text: String) {
        #expect(PeerAddress(parsing: text) == nil)
    }
}
