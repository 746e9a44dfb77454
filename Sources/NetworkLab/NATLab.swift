import Foundation
import NIOCore

/// A small Internet with home networks behind routers, all in Linux network namespaces the lab creates (root only):
/// an "internet" namespace that routes between the home networks and holds the DHT nodes, and per host one to three
/// namespaces — the host, and the routers in front of it, made with iptables as home routers are:
///
/// - open: a public address, nothing in front.
/// - consistent: a NAT that keeps one public port per socket (`MASQUERADE`, which preserves ports).
/// - random: a NAT that picks a new port per destination (`MASQUERADE --random-fully`).
/// - double: a port-preserving home NAT behind a randomising carrier NAT (hyperdht classifies it random).
/// - firewall: a public address behind a router that drops unsolicited inbound datagrams (no NAT).
///
/// The internet's addresses are in 20.0.0.0/8: they must look public to the address rules (the private, shared and
/// TEST-NET ranges are bogons, and a peer treats them differently), and they exist only inside the lab's
/// namespaces, which have no link to the machine's own network: `start` refuses to run when the root namespace
/// routes any part of that range itself. Nothing a lab host sends can leave the lab.
public final class NATLab: @unchecked Sendable {
    public enum HostKind: String, CaseIterable, Sendable {
        case open, consistent, random, double, firewall
    }

    /// A host of the lab: its namespace (whose loop binds sockets there) and its own address.
    public struct Host: Sendable {
        public let kind: HostKind
        public let namespace: NetworkNamespace
        public let address: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case rangeRoutedOnThisMachine(String)
        case noHomeNetwork(String)
        public var description: String {
            switch self {
            case .rangeRoutedOnThisMachine(let routes):
                "the root namespace routes part of \(NATLab.publicRange) itself (\(routes)); the lab would shadow it"
            case .noHomeNetwork(let address):
                "\(address) is not on a home network that can take more hosts"
            }
        }
    }

    /// The range the lab's public addresses come from.
    public static let publicRange = "20.0.0.0/8"

    /// The namespace that routes between the home networks; the DHT nodes live here, at `internetAddress(n)`.
    public let internet: NetworkNamespace
    public private(set) var hosts: [Host] = []
    private var namespaces: [NetworkNamespace] = []
    private var links = 0
    /// The home networks that are bridges, by the address of a host on them: the router, the bridge, the /24's third
    /// octet and the next free host number.
    private var homeNetworks: [String: (router: NetworkNamespace, bridge: String, subnet: Int, next: Int)] = [:]

    /// Why the lab cannot run here, or nil when it can.
    public static var unavailable: String? { NetworkNamespace.unavailable }

    private init(internet: NetworkNamespace) {
        self.internet = internet
        namespaces = [internet]
    }

    /// Makes the internet namespace with `internetHosts` addresses for DHT nodes (20.0.0.1, 20.0.0.2, …).
    public static func start(internetHosts: Int) async throws -> NATLab {
        let routes = try output("/usr/sbin/ip", "-4", "route", "show", "to", "root", publicRange)
        guard routes.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw Failure.rangeRoutedOnThisMachine(routes.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let internet = try NetworkNamespace()
        let lab = NATLab(internet: internet)
        do {
            try lab.forward(internet)
            // The internet stands for the several routers between two homes: every datagram crossing it loses four
            // more hops of life. A hole punch's short-lived probe (5 hops) then dies in it, as on the real Internet,
            // instead of reaching the other side's router, where Linux's NAT would remember it and then refuse the
            // other side's own punch the port it needs.
            try internet.iptables("-t", "mangle", "-A", "PREROUTING", "-j", "TTL", "--ttl-dec", "4")
            for index in 0..<internetHosts {
                try NetworkNamespace.run(
                    "/usr/sbin/ip", "-n", internet.name, "address", "add", "\(internetAddress(index))/32", "dev", "lo")
            }
        } catch {
            await lab.remove()
            throw error
        }
        return lab
    }

    /// The address of the internet's DHT node `index`.
    public static func internetAddress(_ index: Int) -> String { "20.0.0.\(index + 1)" }

    /// Adds a host of `kind` (and the routers in front of it) and returns it.
    public func addHost(_ kind: HostKind) throws -> Host {
        links += 1
        let n = links
        let host: Host
        switch kind {
        case .open:
            let namespace = try makeNamespace()
            try link(internet, "20.1.\(n).1/24", namespace, "20.1.\(n).2/24")
            try defaultRoute(namespace, via: "20.1.\(n).1")
            host = Host(kind: kind, namespace: namespace, address: "20.1.\(n).2")
        case .consistent, .random:
            let router = try makeNamespace()
            let namespace = try makeNamespace()
            let wan = try link(internet, "20.1.\(n).1/24", router, "20.1.\(n).2/24")
            // The home network is a bridge on the router, so that more hosts can join it (`addNeighbour`).
            let bridge = "lan"
            for command in [
                ["link", "add", bridge, "type", "bridge"], ["address", "add", "192.168.\(n).1/24", "dev", bridge],
                ["link", "set", bridge, "up"],
            ] {
                try NetworkNamespace.run(["/usr/sbin/ip", "-n", router.name] + command)
            }
            try attach(namespace, address: "192.168.\(n).2/24", to: bridge, in: router)
            try defaultRoute(router, via: "20.1.\(n).1")
            try defaultRoute(namespace, via: "192.168.\(n).1")
            try forward(router)
            try masquerade(router, out: wan, random: kind == .random)
            host = Host(kind: kind, namespace: namespace, address: "192.168.\(n).2")
            homeNetworks[host.address] = (router, bridge, n, 3)
        case .double:
            let carrier = try makeNamespace()
            let router = try makeNamespace()
            let namespace = try makeNamespace()
            let carrierWAN = try link(internet, "20.1.\(n).1/24", carrier, "20.1.\(n).2/24")
            let homeWAN = try link(carrier, "100.64.\(n).1/24", router, "100.64.\(n).2/24")
            try link(router, "192.168.\(n).1/24", namespace, "192.168.\(n).2/24")
            try defaultRoute(carrier, via: "20.1.\(n).1")
            try defaultRoute(router, via: "100.64.\(n).1")
            try defaultRoute(namespace, via: "192.168.\(n).1")
            try forward(carrier)
            try forward(router)
            try masquerade(carrier, out: carrierWAN, random: true)
            try masquerade(router, out: homeWAN, random: false)
            host = Host(kind: kind, namespace: namespace, address: "192.168.\(n).2")
        case .firewall:
            let router = try makeNamespace()
            let namespace = try makeNamespace()
            let wan = try link(internet, "20.1.\(n).1/24", router, "20.1.\(n).2/24")
            try link(router, "20.2.\(n).1/24", namespace, "20.2.\(n).2/24")
            try NetworkNamespace.run(
                "/usr/sbin/ip", "-n", internet.name, "route", "add", "20.2.\(n).0/24", "via", "20.1.\(n).2")
            try defaultRoute(router, via: "20.1.\(n).1")
            try defaultRoute(namespace, via: "20.2.\(n).1")
            try forward(router)
            // Replies to what the host sent pass; nothing else comes in.
            try router.iptables("-A", "FORWARD", "-i", wan, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
            try router.iptables("-A", "FORWARD", "-i", wan, "-j", "DROP")
            host = Host(kind: kind, namespace: namespace, address: "20.2.\(n).2")
        }
        hosts.append(host)
        return host
    }

    /// Adds a host to the home network of `host` (a consistent or random one): same router, same NAT, its own
    /// address on the home network.
    public func addNeighbour(of host: Host) throws -> Host {
        guard var home = homeNetworks[host.address] else { throw Failure.noHomeNetwork(host.address) }
        let namespace = try makeNamespace()
        let address = "192.168.\(home.subnet).\(home.next)"
        try attach(namespace, address: address + "/24", to: home.bridge, in: home.router)
        try defaultRoute(namespace, via: "192.168.\(home.subnet).1")
        home.next += 1
        homeNetworks[host.address] = home
        let neighbour = Host(kind: host.kind, namespace: namespace, address: address)
        homeNetworks[address] = home
        hosts.append(neighbour)
        return neighbour
    }

    /// Deletes every namespace of the lab (their links and rules go with them).
    public func remove() async {
        for namespace in namespaces.reversed() { await namespace.remove() }
        namespaces = []
    }

    // MARK: - Building blocks

    private func makeNamespace() throws -> NetworkNamespace {
        let namespace = try NetworkNamespace()
        namespaces.append(namespace)
        return namespace
    }

    /// A veth pair between two namespaces with an address on each end; returns the name of `b`'s end.
    @discardableResult
    private func link(_ a: NetworkNamespace, _ aAddress: String, _ b: NetworkNamespace, _ bAddress: String) throws -> String {
        links += 1
        // Names only need to be unique inside each namespace; short ones fit IFNAMSIZ.
        let aName = "l\(links)a"
        let bName = "l\(links)b"
        try NetworkNamespace.run(
            "/usr/sbin/ip", "link", "add", aName, "netns", a.name, "type", "veth", "peer", "name", bName, "netns", b.name)
        for (namespace, name, address) in [(a, aName, aAddress), (b, bName, bAddress)] {
            try NetworkNamespace.run("/usr/sbin/ip", "-n", namespace.name, "address", "add", address, "dev", name)
            try NetworkNamespace.run("/usr/sbin/ip", "-n", namespace.name, "link", "set", name, "up")
        }
        return bName
    }

    /// A veth from `namespace` (with `address`) to the bridge `bridge` in `router`.
    private func attach(_ namespace: NetworkNamespace, address: String, to bridge: String, in router: NetworkNamespace) throws {
        links += 1
        let hostEnd = "l\(links)h"
        let bridgeEnd = "l\(links)p"
        try NetworkNamespace.run(
            "/usr/sbin/ip", "link", "add", hostEnd, "netns", namespace.name, "type", "veth", "peer", "name", bridgeEnd,
            "netns", router.name)
        try NetworkNamespace.run("/usr/sbin/ip", "-n", namespace.name, "address", "add", address, "dev", hostEnd)
        try NetworkNamespace.run("/usr/sbin/ip", "-n", namespace.name, "link", "set", hostEnd, "up")
        try NetworkNamespace.run("/usr/sbin/ip", "-n", router.name, "link", "set", bridgeEnd, "master", bridge, "up")
    }

    private func defaultRoute(_ namespace: NetworkNamespace, via gateway: String) throws {
        try NetworkNamespace.run("/usr/sbin/ip", "-n", namespace.name, "route", "add", "default", "via", gateway)
    }

    private func forward(_ namespace: NetworkNamespace) throws {
        try NetworkNamespace.run(
            "/usr/sbin/ip", "netns", "exec", namespace.name, "/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
    }

    private func masquerade(_ router: NetworkNamespace, out interface: String, random: Bool) throws {
        var rule = ["-t", "nat", "-A", "POSTROUTING", "-o", interface, "-j", "MASQUERADE"]
        if random { rule.append("--random-fully") }
        try NetworkNamespace.run(["/usr/sbin/ip", "netns", "exec", router.name, "/usr/sbin/iptables"] + rule)
    }

    private static func output(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
