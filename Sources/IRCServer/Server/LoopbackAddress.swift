#if canImport(Glibc)
import Glibc
#endif

/// Whether a host is this machine: `localhost`, an IPv4 address in 127.0.0.0/8, `::1`, or an IPv4-mapped IPv6
/// address in 127.0.0.0/8. Addresses are parsed (`inet_pton`), so a host name that merely starts with "127." is not
/// taken for one. One rule for every place that treats loopback differently: flood control and per-address limits,
/// passwords in the clear, listeners a gateway without accounts may bind.
public enum LoopbackAddress {
    public static func contains(_ host: String) -> Bool {
        if host == "localhost" { return true }
        // C strings end at a NUL: "127.0.0.1\0…" is not an address.
        guard !host.utf8.contains(0) else { return false }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        return withUnsafeBytes(of: v6) { bytes in
            let loopback = bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
            let mapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
            return loopback || mapped
        }
    }
}
