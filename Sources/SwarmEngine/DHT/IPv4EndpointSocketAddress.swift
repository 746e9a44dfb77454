import CompactEncoding
import NIOCore

/// Between the wire's 6-byte IPv4 addresses and NIO's socket addresses, for the sockets the DHT sends and receives on.
extension IPv4Endpoint {
    /// The IPv4 endpoint of a socket address (nil for IPv6, a Unix socket or port 0).
    init?(_ address: SocketAddress) {
        guard let host = address.ipAddress, let port = address.port, port > 0, port < 65536 else { return nil }
        self.init(host: host, port: UInt16(port))
    }

    var socketAddress: SocketAddress? { try? SocketAddress(ipAddress: host, port: Int(port)) }
}
