import CompactEncoding
import NIOCore
import NIOPosix

/// The addresses a peer offers for a connection inside its own network (hyperdht's `Holepuncher.localAddresses` and
/// `matchAddress`): its server socket's port on each of the machine's IPv4 interfaces (or on the one address the
/// socket is bound to), so that two peers behind the same NAT, or on one machine, reach each other without the NAT.
extension DHTNode {
    var localAddresses: [IPv4Endpoint] {
        guard let bound = address else { return [] }
        if bound.address != 0 { return [bound] }
        let interfaces = (try? System.enumerateDevices()) ?? []
        let addresses = interfaces.compactMap { device -> IPv4Endpoint? in
            guard let address = device.address.flatMap(IPv4Endpoint.init), !address.isLoopback else { return nil }
            return IPv4Endpoint(address: address.address, port: bound.port)
        }
        return addresses.isEmpty ? [IPv4Endpoint(address: 0x7f00_0001, port: bound.port)] : addresses
    }

    /// The remote's local address sharing the most leading octets (at least the first) with one of ours; the full
    /// /24 wins at once.
    static func bestLocalMatch(ours: [IPv4Endpoint], theirs: [IPv4Endpoint]) -> IPv4Endpoint? {
        var best: (octets: Int, address: IPv4Endpoint)?
        for local in ours {
            for remote in theirs {
                let shared = (0..<3).prefix { index in
                    (local.address >> (24 - 8 * index)) & 0xff == (remote.address >> (24 - 8 * index)) & 0xff
                }.count
                if shared == 3 { return remote }
                if shared > 0, shared > best?.octets ?? 0 { best = (shared, remote) }
            }
        }
        return best?.address
    }
}

extension IPv4Endpoint {
    var isLoopback: Bool { address >> 24 == 127 }
}
