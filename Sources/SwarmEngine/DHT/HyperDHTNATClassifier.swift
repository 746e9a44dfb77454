import CompactEncoding

/// How a HyperDHT peer's NAT treats it (hyperdht 6.33 `FIREWALL`), as the Noise payloads of a connection announce it.
public enum HyperDHTFirewall: UInt64, Sendable {
    case unknown = 0
    /// Reachable as it is (the DHT node is not firewalled).
    case open = 1
    /// Behind a NAT that keeps one public port per socket: punchable.
    case consistent = 2
    /// Behind a NAT that picks a new port per destination.
    case random = 3
}

/// hyperdht's per-socket NAT classification (`lib/nat.js`): the addresses other nodes report seeing a socket at,
/// one sample per node, counted per host and per host and port. Not firewalled: OPEN. Otherwise, from three samples:
/// one address seen three times is CONSISTENT, all different is RANDOM; with a best of two, one host and four samples
/// is RANDOM, a second address also seen twice is CONSISTENT, and five samples without a decision are RANDOM. The
/// addresses a peer advertises follow: a CONSISTENT NAT's addresses seen twice (at least two of them), a RANDOM one's
/// host alone (port 0).
///
/// A pure value; `DHTNode.sampleFirewall` feeds it from pings.
public struct HyperDHTNATClassifier: Sendable {
    public struct Sample: Sendable, Equatable {
        public var address: IPv4Endpoint
        public var hits: Int
    }

    public private(set) var firewall: HyperDHTFirewall
    public private(set) var addresses: [IPv4Endpoint]?
    public private(set) var sampled = 0
    /// While frozen (during a holepunch round) samples are counted but the verdict does not move.
    public var frozen = false {
        didSet { if !frozen { update() } }
    }
    private let firewalled: Bool
    private var hosts: [Sample] = []
    private var full: [Sample] = []
    private var seenFrom: Set<IPv4Endpoint> = []

    public init(firewalled: Bool) {
        self.firewalled = firewalled
        firewall = firewalled ? .unknown : .open
    }

    /// `observed` is where `node` saw us; each node counts once.
    public mutating func add(observed: IPv4Endpoint, from node: IPv4Endpoint) {
        guard seenFrom.insert(node).inserted else { return }
        Self.count(&hosts, IPv4Endpoint(address: observed.address, port: 0))
        Self.count(&full, observed)
        sampled += 1
        if (sampled >= 3 || !firewalled) && !frozen { update() }
    }

    /// Whether there is enough to go on (`_resolve`): OPEN or CONSISTENT at once, anything else after `minimum`.
    public func isDecided(minimum: Int = 4) -> Bool {
        firewall == .consistent || firewall == .open || sampled >= minimum
    }

    private mutating func update() {
        updateFirewall()
        switch firewall {
        case .unknown:
            addresses = nil
        case .random:
            addresses = hosts.first.map { [$0.address] }
        case .consistent:
            var chosen: [IPv4Endpoint] = []
            for sample in full where sample.hits >= 2 || chosen.count < 2 { chosen.append(sample.address) }
            addresses = chosen
        case .open:
            break
        }
    }

    private mutating func updateFirewall() {
        guard firewalled else {
            firewall = .open
            return
        }
        guard sampled >= 3, let best = full.first?.hits else { return }
        if best >= 3 {
            firewall = .consistent
        } else if best == 1 {
            firewall = .random
        } else if hosts.count == 1 && sampled > 3 {
            firewall = .random
        } else if hosts.count > 1 && full.count > 1 && full[1].hits > 1 {
            firewall = .consistent
        } else if sampled > 4 {
            firewall = .random
        }
    }

    /// `addSample`: one more hit, kept sorted by hits (a sample moves up past those with fewer).
    private static func count(_ samples: inout [Sample], _ address: IPv4Endpoint) {
        guard var index = samples.firstIndex(where: { $0.address == address }) else {
            samples.append(Sample(address: address, hits: 1))
            return
        }
        samples[index].hits += 1
        while index > 0, samples[index - 1].hits < samples[index].hits {
            samples.swapAt(index, index - 1)
            index -= 1
        }
    }
}
