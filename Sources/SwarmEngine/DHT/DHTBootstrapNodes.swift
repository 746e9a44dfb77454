import CompactEncoding

/// Where a DHT node starts when nobody says otherwise: the public HyperDHT bootstrap nodes (hyperdht 6.33
/// `lib/constants.js`, `hyperdht.json` `constants.BOOTSTRAP_NODES`; the reference writes them `IP@name:port` and tries
/// the IP first). Never contacted by tests: `DHTBootstrapNodes.resolve` refuses them when
/// `PEARIRC_FORBID_PUBLIC_BOOTSTRAP` is set, which every test helper sets.
public enum DHTBootstrapNodes {
    public static let publicNodes: [IPv4Endpoint] = [
        IPv4Endpoint(host: "88.99.3.86", port: 49737)!,
        IPv4Endpoint(host: "142.93.90.113", port: 49737)!,
        IPv4Endpoint(host: "138.68.147.8", port: 49737)!,
    ]

    /// HyperDHT's default port.
    public static let defaultPort = 49737

    public struct PublicNetworkForbidden: Error, CustomStringConvertible {
        public var description: String {
            "no --bootstrap given, and PEARIRC_FORBID_PUBLIC_BOOTSTRAP forbids the public HyperDHT bootstrap nodes"
        }
    }

    /// The nodes to bootstrap from: those given; none for a persistent node given none (the first node of a
    /// network, as hyperdht's `DHT.bootstrapper`); else the public nodes, unless `environment` forbids them.
    public static func resolve(
        given: [IPv4Endpoint], persistent: Bool, environment: [String: String]
    ) throws -> [IPv4Endpoint] {
        if !given.isEmpty || persistent { return given }
        guard environment["PEARIRC_FORBID_PUBLIC_BOOTSTRAP"] == nil else { throw PublicNetworkForbidden() }
        return publicNodes
    }
}
