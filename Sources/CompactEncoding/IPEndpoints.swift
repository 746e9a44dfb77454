#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 address and port as `compact-encoding-net`'s `ipv4Address` encodes it (what dht-rpc puts on the
/// wire for peers and nodes): the four address bytes in order, then the port as uint16 little-endian.
public struct IPv4Endpoint: Hashable, Sendable, CompactCodable, CustomStringConvertible {
    /// The address in network order: `a.b.c.d` is `a << 24 | b << 16 | c << 8 | d`.
    public var address: UInt32
    public var port: UInt16

    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses dotted-quad text. Returns nil for anything that is not exactly four decimal octets.
    public init?(host: String, port: UInt16) {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var address: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII),
                let octet = UInt8(part)
            else { return nil }
            address = address << 8 | UInt32(octet)
        }
        self.init(address: address, port: port)
    }

    public var octets: [UInt8] {
        [UInt8(address >> 24), UInt8(truncatingIfNeeded: address >> 16),
         UInt8(truncatingIfNeeded: address >> 8), UInt8(truncatingIfNeeded: address)]
    }

    /// Dotted-quad text.
    public var host: String { octets.map(String.init).joined(separator: ".") }

    public var description: String { "\(host):\(port)" }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeRaw(octets)
        writer.writeUInt16(port)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let bytes = try reader.readFixed(length: 4)
        let address = bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        self.init(address: address, port: try reader.readUInt16())
    }
}

/// An IPv6 address and port as `compact-encoding-net`'s `ipv6Address` encodes it: the 16 address bytes in
/// network order, then the port as uint16 little-endian.
public struct IPv6Endpoint: Hashable, Sendable, CompactCodable, CustomStringConvertible {
    /// Always exactly 16 bytes.
    public let addressBytes: [UInt8]
    public var port: UInt16

    /// Nil unless `addressBytes` has exactly 16 bytes.
    public init?(addressBytes: [UInt8], port: UInt16) {
        guard addressBytes.count == 16 else { return nil }
        self.addressBytes = addressBytes
        self.port = port
    }

    /// Parses any textual IPv6 form the system's `inet_pton` accepts (`::1`, `2001:db8::ff00:42:8329`, …).
    public init?(host: String, port: UInt16) {
        var storage = in6_addr()
        guard inet_pton(AF_INET6, host, &storage) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &storage) { Array($0) }
        self.init(addressBytes: bytes, port: port)
    }

    /// The canonical (RFC 5952) text form.
    public var host: String {
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: addressBytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &storage, &text, socklen_t(text.count)) != nil else { return "::" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { "[\(host)]:\(port)" }

    public func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeFixed(addressBytes, length: 16)
        writer.writeUInt16(port)
    }

    public init(from reader: inout CompactReader) throws(CompactEncodingError) {
        addressBytes = try reader.readFixed(length: 16)
        port = try reader.readUInt16()
    }
}
