import CompactEncoding
import Testing

@testable import SwarmEngine

/// dht-rpc's tick-driven decisions (`DHTNetworkState`): when an adaptive node checks its network, what makes it
/// persistent (enough nodes reach its server socket at its client socket's public host and exactly its local port),
/// what keeps it firewalled (too few answers, a NAT that remaps the port, another host), which nodes the upkeep
/// pings, which node of a full row is challenged, and when the table is refreshed.
struct DHTNetworkStateTests {
    static let publicHost = IPv4Endpoint(host: "203.0.113.7", port: 0)!.address

    static func sampler(_ observations: [IPv4Endpoint]) -> DHTNATSampler {
        var sampler = DHTNATSampler()
        for observed in observations { sampler.add(observed) }
        return sampler
    }

    static func node(_ index: UInt8, added: UInt64 = 0, pinged: UInt64 = 0, seen: UInt64 = 0) -> DHTContact {
        DHTContact(
            id: [UInt8](repeating: index, count: 32), endpoint: IPv4Endpoint(address: 0x0a00_0000 | UInt32(index), port: 1),
            added: added, pinged: pinged, seen: seen)
    }

    static func pongs(_ count: Int, onServerSocket: Int, port: UInt16, host: UInt32 = publicHost) -> [DHTNetworkState.Pong] {
        (0..<count).map { index in
            DHTNetworkState.Pong(
                from: IPv4Endpoint(address: 0x0a00_0100 + UInt32(index), port: 1),
                to: IPv4Endpoint(address: host, port: port), cameToServerSocket: index < onServerSocket)
        }
    }

    @Test func theFirewallVerdict() {
        let client = Self.sampler(Array(repeating: IPv4Endpoint(address: Self.publicHost, port: 40_000), count: 5))
        // Three of five answers reached the server socket, at our host and our local server port: open.
        let open = DHTNetworkState.firewallVerdict(
            pongs: Self.pongs(5, onServerSocket: 3, port: 49_737), asked: 5, clientNAT: client, serverPort: 49_737)
        #expect(open.firewalled == false)
        #expect(open.sampler.address == IPv4Endpoint(address: Self.publicHost, port: 49_737))
        // Only two: firewalled.
        let few = DHTNetworkState.firewallVerdict(
            pongs: Self.pongs(5, onServerSocket: 2, port: 49_737), asked: 5, clientNAT: client, serverPort: 49_737)
        #expect(few.firewalled)
        // Fewer than five asked: one is enough.
        let small = DHTNetworkState.firewallVerdict(
            pongs: Self.pongs(2, onServerSocket: 1, port: 49_737), asked: 2, clientNAT: client, serverPort: 49_737)
        #expect(small.firewalled == false)
        // A NAT that maps the server socket to another port: firewalled (others could not keep reaching it).
        let remapped = DHTNetworkState.firewallVerdict(
            pongs: Self.pongs(5, onServerSocket: 5, port: 61_000), asked: 5, clientNAT: client, serverPort: 49_737)
        #expect(remapped.firewalled)
        // The server socket seen at another host than the client socket: firewalled.
        let elsewhere = DHTNetworkState.firewallVerdict(
            pongs: Self.pongs(5, onServerSocket: 5, port: 49_737, host: Self.publicHost + 1), asked: 5, clientNAT: client,
            serverPort: 49_737)
        #expect(elsewhere.firewalled)
        // Nobody asked: firewalled.
        #expect(DHTNetworkState.firewallVerdict(pongs: [], asked: 0, clientNAT: client, serverPort: 1).firewalled)
    }

    @Test func anAdaptiveNodeChecksAfterTwentyQuietMinutesAndBecomesPersistent() {
        var state = DHTNetworkState(mode: .adaptive, tickOffset: 1, refreshOffset: 1000)
        #expect(state.isEphemeral && state.isFirewalled && state.wantsQuickFirewallCheck)
        let nat = Self.sampler(Array(repeating: IPv4Endpoint(address: Self.publicHost, port: 40_000), count: 4))
        var checks: [UInt64] = []
        for _ in 0..<DHTNetworkState.stableTicks {
            let actions = state.advance(
                bootstrapped: true, natHost: nat.host, nodeCount: 20, nodesByAge: { [] }, tableSize: 20, inflight: 0)
            if actions.contains(.checkNetwork) { checks.append(state.tick) }
        }
        #expect(checks == [1 + UInt64(DHTNetworkState.stableTicks)])
        let began = state.beginCheck(onlyFirewall: false, nat: nat)
        #expect(began)
        let probe = Self.sampler(Array(repeating: IPv4Endpoint(address: Self.publicHost, port: 49_737), count: 4))
        let address = state.concludeCheck(onlyFirewall: false, probeFailed: false, probe: probe, nat: nat, natMoved: false)
        #expect(address == IPv4Endpoint(address: Self.publicHost, port: 49_737))
        #expect(!state.isEphemeral && !state.isFirewalled)
        // Persistent: no more checks.
        let again = state.beginCheck(onlyFirewall: false, nat: nat)
        #expect(!again)
    }

    @Test func aFailedCheckWaitsLongerForTheSameNetwork() {
        var state = DHTNetworkState(mode: .adaptive, tickOffset: 1, refreshOffset: 100_000)
        let nat = Self.sampler(Array(repeating: IPv4Endpoint(address: Self.publicHost, port: 40_000), count: 4))
        func run(_ ticks: Int) -> Int {
            var count = 0
            for _ in 0..<ticks {
                let actions = state.advance(
                    bootstrapped: true, natHost: nat.host, nodeCount: 20, nodesByAge: { [] }, tableSize: 20, inflight: 0)
                if actions.contains(.checkNetwork) {
                    count += 1
                    _ = state.beginCheck(onlyFirewall: false, nat: nat)
                    _ = state.concludeCheck(onlyFirewall: false, probeFailed: true, probe: DHTNATSampler(), nat: nat, natMoved: false)
                }
            }
            return count
        }
        #expect(run(DHTNetworkState.stableTicks) == 1)
        #expect(state.isEphemeral && state.isFirewalled)
        // The same host: not checked again for 720 ticks, and then skipped once more (same host) for another 720.
        #expect(run(DHTNetworkState.moreStableTicks * 2) == 0)
        // A NAT without a consistent port cannot even start a check.
        let randomized = Self.sampler((0..<4).map { IPv4Endpoint(address: Self.publicHost, port: 40_000 + UInt16($0)) })
        let randomizedCheck = state.beginCheck(onlyFirewall: false, nat: randomized)
        #expect(!randomizedCheck)
        // Forced modes never check.
        var persistent = DHTNetworkState(mode: .persistent)
        #expect(!persistent.isEphemeral && !persistent.isFirewalled && !persistent.wantsQuickFirewallCheck)
        let persistentCheck = persistent.beginCheck(onlyFirewall: false, nat: nat)
        #expect(!persistentCheck)
        var ephemeral = DHTNetworkState(mode: .ephemeral, tickOffset: 1)
        for _ in 0..<(DHTNetworkState.stableTicks + 1) {
            let actions = ephemeral.advance(
                bootstrapped: true, natHost: nat.host, nodeCount: 20, nodesByAge: { [] }, tableSize: 20, inflight: 0)
            #expect(!actions.contains(.checkNetwork))
        }
    }

    @Test func upkeepPingsTheOldestAndRefreshes() {
        var state = DHTNetworkState(mode: .persistent, tickOffset: 100, refreshOffset: 3)
        let nodes = (1...8).map { Self.node(UInt8($0), pinged: UInt64($0), seen: UInt64($0)) }
        var pinged: [[DHTContact]] = []
        var refreshes: [UInt64] = []
        for _ in 0..<70 {
            for action in state.advance(
                bootstrapped: true, natHost: nil, nodeCount: 30, nodesByAge: { nodes }, tableSize: 20, inflight: 0)
            {
                switch action {
                case .ping(let chosen): pinged.append(chosen)
                case .refresh: refreshes.append(state.tick)
                case .checkNetwork: Issue.record("a persistent node checked its network")
                }
            }
        }
        // Every 8th tick, the five longest unheard-from nodes (three when requests pile up).
        #expect(pinged.count == 9)  // ticks 104, 112, …, 168
        #expect(pinged.first == Array(nodes.prefix(5)))
        // Idle refresh after 3 ticks, then every 60.
        #expect(refreshes == [103, 163])
        // A table with fewer than k nodes is also refreshed every 64th tick (64 and 128), and a refresh restarts
        // the idle count (so 124 too).
        var small = DHTNetworkState(mode: .persistent, tickOffset: 0, refreshOffset: 1000)
        var smallRefreshes = 0
        for _ in 0..<128 {
            let actions = small.advance(
                bootstrapped: true, natHost: nil, nodeCount: 3, nodesByAge: { Array(nodes.prefix(3)) }, tableSize: 20,
                inflight: 0)
            smallRefreshes += actions.filter { $0 == .refresh }.count
        }
        #expect(smallRefreshes == 3)
        // Recently pinged oldest: only two.
        var recent = DHTNetworkState(mode: .persistent, tickOffset: 7, refreshOffset: 1000)
        let fresh = (1...8).map { Self.node(UInt8($0), pinged: 5, seen: 5) }
        let actions = recent.advance(
            bootstrapped: true, natHost: nil, nodeCount: 30, nodesByAge: { fresh }, tableSize: 20, inflight: 0)
        #expect(actions == [.ping(Array(fresh.prefix(2)))])
    }

    @Test func aFullRowChallengesItsOldestNode() {
        var state = DHTNetworkState(mode: .persistent, tickOffset: 1000, refreshOffset: 1000)
        let row = [
            Self.node(1, added: 10, pinged: 900), Self.node(2, added: 5, pinged: 800), Self.node(3, added: 1, pinged: 800),
            Self.node(4, added: 2, pinged: 1000),
        ]
        let early = state.challenge(in: row, bootstrapped: false)
        #expect(early == nil)
        let first = state.challenge(in: row, bootstrapped: true)
        #expect(first?.id == Self.node(3).id)
        // Pinged within the last minute and around for more than half an hour: kept.
        let settled = [Self.node(1, added: 100, pinged: 995)]
        let kept = state.challenge(in: settled, bootstrapped: true)
        #expect(kept == nil)
        // At most three challenges at once.
        let second = state.challenge(in: row, bootstrapped: true)
        let third = state.challenge(in: row, bootstrapped: true)
        let fourth = state.challenge(in: row, bootstrapped: true)
        #expect(second != nil && third != nil && fourth == nil)
        state.challengeSettled()
        let afterOne = state.challenge(in: row, bootstrapped: true)
        #expect(afterOne != nil)
    }

    @Test func wakingFromSleepMakesEveryNodeOldAndTheNodeEphemeralAgain() {
        var state = DHTNetworkState(mode: .adaptive, tickOffset: 1, refreshOffset: 1000)
        let nat = Self.sampler(Array(repeating: IPv4Endpoint(address: Self.publicHost, port: 40_000), count: 4))
        _ = state.beginCheck(onlyFirewall: false, nat: nat)
        let probe = Self.sampler(Array(repeating: IPv4Endpoint(address: Self.publicHost, port: 49_737), count: 4))
        _ = state.concludeCheck(onlyFirewall: false, probeFailed: false, probe: probe, nat: nat, natMoved: false)
        #expect(!state.isEphemeral)
        let nodes = [Self.node(1, added: 1, pinged: 1, seen: 1)]
        // Whatever the tick's place in its round of eight (the reference's arithmetic would go below zero at 7).
        var atSeven = DHTNetworkState(mode: .adaptive, tickOffset: 7, refreshOffset: 1000)
        _ = atSeven.advance(
            bootstrapped: true, natHost: nil, nodeCount: 1, nodesByAge: { nodes }, tableSize: 20, inflight: 0, wokeUp: true)
        #expect(atSeven.tick & 7 == 6)
        let actions = state.advance(
            bootstrapped: true, natHost: nat.host, nodeCount: 1, nodesByAge: { nodes }, tableSize: 20, inflight: 0,
            wokeUp: true)
        // Every node is now more than half an hour old; pings come two ticks later, a refresh at once.
        #expect(state.tick >= 1 + 2 * DHTNetworkState.oldNode)
        #expect(state.tick & 7 == 6)
        #expect(actions == [.refresh])
        #expect(state.isEphemeral)
        var pinged = false
        for _ in 0..<2 {
            let next = state.advance(
                bootstrapped: true, natHost: nat.host, nodeCount: 1, nodesByAge: { nodes }, tableSize: 20, inflight: 0)
            if next.contains(.ping(nodes)) { pinged = true }
        }
        #expect(pinged)
        // The network is checked afresh only after 720 ticks.
        var checkedAt: UInt64?
        for _ in 0..<(DHTNetworkState.moreStableTicks + 1) where checkedAt == nil {
            let next = state.advance(
                bootstrapped: true, natHost: nat.host, nodeCount: 1, nodesByAge: { nodes }, tableSize: 20, inflight: 0)
            if next.contains(.checkNetwork) { checkedAt = state.tick }
        }
        #expect(checkedAt != nil)
    }
}
