import CompactEncoding

/// What a dht-rpc node decides on its 5-second tick (dht-rpc 6.26 `index.js` `_ontick`, `_pingSome`, `_onfullrow`,
/// `_updateNetworkState`, `_checkIfFirewalled`): whether it is firewalled (replies reach only its client socket)
/// and ephemeral (sends no id, stays out of other nodes' tables), when to try becoming persistent, which nodes of its
/// table to ping, which node of a full row to challenge, and when to refresh the table with a background walk.
///
/// An adaptive node (the default) starts ephemeral and firewalled. Its bootstrap walk may clear `firewalled` early
/// (a PING_NAT answered on the server socket); after 240 quiet ticks (about 20 minutes) it checks its network: when
/// its NAT sampler reports one host and port, and at least 3 of 5 recent nodes (1 when fewer were asked) answer a
/// PING_NAT on its server socket showing the same host and exactly the server socket's port, it becomes persistent
/// with the id of that address. A node that checked a host and failed waits 720 ticks before checking the same
/// host again. A forced-persistent node (`pearircd dht-node --persistent`, hyperdht's `bootstrapper`) is neither
/// firewalled nor ephemeral from the start; a forced-ephemeral one never checks.
///
/// Pure: the shell counts ticks, performs the actions and reports what came back.
public struct DHTNetworkState: Sendable {
    public enum Mode: Sendable {
        case adaptive
        case persistent
        case ephemeral
    }

    public enum Action: Sendable, Equatable {
        /// Run `_updateNetworkState`: a PING_NAT round to `firewallProbeTargets` and then `concludeCheck`.
        case checkNetwork
        /// Ping these nodes (`_check`): an answer that does not refresh the node, or none, removes it.
        case ping([DHTContact])
        /// A background FIND_NODE walk toward a random node of the table (our own id when empty).
        case refresh
    }

    /// dht-rpc's constants, in ticks of 5 s.
    public static let stableTicks = 240
    public static let moreStableTicks = 3 * 240
    public static let refreshTicks = 60
    public static let recentNode: UInt64 = 12
    public static let oldNode: UInt64 = 360

    public let mode: Mode
    public private(set) var isEphemeral: Bool
    public private(set) var isFirewalled: Bool
    public private(set) var tick: UInt64
    private var ticksUntilCheck: Int
    private var ticksUntilRefresh: Int
    private var lastCheckedHost: UInt32??
    /// Full-row challenges in flight (at most 3).
    public private(set) var repinging = 0

    /// `tickOffset` and `refreshOffset` spread the network's ticks apart (dht-rpc starts them at random offsets).
    public init(mode: Mode, tickOffset: UInt64 = 0, refreshOffset: Int = refreshTicks) {
        self.mode = mode
        isEphemeral = mode != .persistent
        isFirewalled = mode != .persistent
        tick = tickOffset
        ticksUntilCheck = mode == .adaptive ? Self.stableTicks : 0
        ticksUntilRefresh = refreshOffset
        lastCheckedHost = nil
    }

    /// Whether the bootstrap walk should send the quick PING_NAT (`_quickFirewall`).
    public var wantsQuickFirewallCheck: Bool { isFirewalled && mode != .persistent }

    /// A walk started: the idle refresh waits again.
    public mutating func queried() {
        ticksUntilRefresh = Self.refreshTicks
    }

    /// One tick. `nodesByAge` gives the table's nodes, longest unheard-from first (asked for only every 8th tick);
    /// `inflight` is the number of requests in flight. `wokeUp`: more than three ticks' time passed since the last
    /// (the machine slept, `_onwakeup`): every node now counts as old, a round of pings comes in two ticks, a
    /// refresh at the next, the network is checked afresh after 720 ticks, and an adaptive node that had become
    /// persistent is ephemeral again until then (its address may have changed while it slept).
    public mutating func advance(
        bootstrapped: Bool, natHost: UInt32?, nodeCount: Int, nodesByAge: () -> [DHTContact], tableSize k: Int,
        inflight: Int, wokeUp: Bool = false
    ) -> [Action] {
        if wokeUp {
            tick += 2 * Self.oldNode
            tick = tick - (tick & 7) + 6  // the reference's `tick += 8 - (tick & 7) - 2`, never below zero
            ticksUntilCheck = Self.moreStableTicks
            ticksUntilRefresh = 1
            lastCheckedHost = nil
            if mode == .adaptive { isEphemeral = true }
        } else {
            tick += 1
        }
        guard bootstrapped else { return [] }
        var actions: [Action] = []
        if mode == .adaptive, isEphemeral {
            ticksUntilCheck -= 1
            if ticksUntilCheck <= 0 {
                if case .some(let host) = lastCheckedHost, host == natHost {
                    // Do not recheck the same network.
                    ticksUntilCheck = Self.moreStableTicks
                } else {
                    actions.append(.checkNetwork)
                }
            }
        }
        if tick & 7 == 0 { actions.append(contentsOf: pingSome(nodesByAge(), inflight: inflight)) }
        ticksUntilRefresh -= 1
        if (tick & 63 == 0 && nodeCount < k) || ticksUntilRefresh <= 0 {
            actions.append(.refresh)
            ticksUntilRefresh = Self.refreshTicks
        }
        return actions
    }

    /// `_pingSome`: up to five of the longest-unheard nodes (three when requests are piling up, two when the oldest
    /// was pinged within the last minute), none pinged this tick; a table with nobody in it is refreshed instead.
    private func pingSome(_ nodesByAge: [DHTContact], inflight: Int) -> [Action] {
        guard let oldest = nodesByAge.first else { return [.refresh] }
        var count = inflight > 2 ? 3 : 5
        if tick - min(tick, oldest.pinged) < Self.recentNode { count = 2 }
        var chosen: [DHTContact] = []
        var index = 0
        // As the reference's loop: a node pinged this tick uses up a turn without moving on.
        for _ in 0..<count {
            guard index < nodesByAge.count, nodesByAge[index].pinged != tick else { continue }
            chosen.append(nodesByAge[index])
            index += 1
        }
        return chosen.isEmpty ? [] : [.ping(chosen)]
    }

    // MARK: - Full rows

    /// `_onfullrow`: the node of a full row to ping (and, if it does not answer, to replace with the newcomer): the
    /// one pinged longest ago (then added earliest), unless it was pinged within the last minute and has been
    /// around for half an hour. Nil when nothing should be challenged.
    public mutating func challenge(in row: [DHTContact], bootstrapped: Bool) -> DHTContact? {
        guard bootstrapped, repinging < 3 else { return nil }
        var oldest: DHTContact?
        for node in row where node.pinged != tick {
            guard let current = oldest else {
                oldest = node
                continue
            }
            if current.pinged > node.pinged || (current.pinged == node.pinged && current.added > node.added) {
                oldest = node
            }
        }
        guard let oldest else { return nil }
        if tick - min(tick, oldest.pinged) < Self.recentNode, tick - min(tick, oldest.added) > Self.oldNode { return nil }
        repinging += 1
        return oldest
    }

    public mutating func challengeSettled() {
        repinging = max(0, repinging - 1)
    }

    // MARK: - Becoming persistent

    /// The PING_NAT round of `_checkIfFirewalled`: the five most recently heard-from nodes, filled up from the
    /// bootstrap nodes when there are fewer.
    public static func firewallProbeTargets(recentFirst: [IPv4Endpoint], bootstrap: [IPv4Endpoint]) -> [IPv4Endpoint] {
        var targets = Array(recentFirst.prefix(5))
        if targets.count < 5 { targets += bootstrap }
        return targets
    }

    /// Starts a network check; false when there is nothing to check (already persistent; firewall-only and not
    /// firewalled; no consistent host and port yet). A full check (`onlyFirewall` false) remembers the host it
    /// checked and waits 720 ticks before the next.
    public mutating func beginCheck(onlyFirewall: Bool, nat: DHTNATSampler) -> Bool {
        guard isEphemeral, !(onlyFirewall && !isFirewalled) else { return false }
        if !onlyFirewall {
            ticksUntilCheck = Self.moreStableTicks
            lastCheckedHost = .some(nat.host)
        }
        return nat.host != nil && nat.port != 0
    }

    /// A PING_NAT answer: `from` answered, `to` is where it saw us, and `cameToServerSocket` whether a datagram from
    /// that host arrived on our server socket during the check.
    public struct Pong: Sendable, Equatable {
        public var from: IPv4Endpoint
        public var to: IPv4Endpoint
        public var cameToServerSocket: Bool
        public init(from: IPv4Endpoint, to: IPv4Endpoint, cameToServerSocket: Bool) {
            self.from = from
            self.to = to
            self.cameToServerSocket = cameToServerSocket
        }
    }

    /// `_checkIfFirewalled`: firewalled unless enough nodes reached our server socket and all agree it is at the
    /// client socket's public host, on exactly the server socket's local port. Also returns what the pongs say our
    /// address is (the sampler a node that passes adopts).
    public static func firewallVerdict(
        pongs: [Pong], asked: Int, clientNAT: DHTNATSampler, serverPort: UInt16
    ) -> (firewalled: Bool, sampler: DHTNATSampler) {
        var sampler = DHTNATSampler()
        var count = 0
        for pong in pongs where pong.cameToServerSocket {
            count += 1
            sampler.add(pong.to)
        }
        guard asked > 0, count >= (asked >= 5 ? 3 : 1) else { return (true, sampler) }
        guard let host = sampler.host, host == clientNAT.host else { return (true, sampler) }
        guard sampler.port != 0, sampler.port == serverPort else { return (true, sampler) }
        return (false, sampler)
    }

    /// How a check ended (`_updateNetworkState` after the probe). A firewalled node whose probe passed is no
    /// longer firewalled; then, unless the NAT sampler's view moved during the check or the probe saw another host,
    /// the node takes the id of the address the probe saw (`probe`: the probe's sampler, or the NAT sampler itself
    /// when the node was not firewalled) and, after a full check, becomes persistent. Returns that address.
    public mutating func concludeCheck(
        onlyFirewall: Bool, probeFailed: Bool, probe: DHTNATSampler, nat: DHTNATSampler, natMoved: Bool
    ) -> IPv4Endpoint? {
        guard isEphemeral else { return nil }
        if isFirewalled {
            guard !probeFailed else { return nil }
            isFirewalled = false
        }
        guard !natMoved, let host = probe.host, probe.port != 0, host == nat.host else { return nil }
        if !onlyFirewall { isEphemeral = false }
        return IPv4Endpoint(address: host, port: probe.port)
    }
}
