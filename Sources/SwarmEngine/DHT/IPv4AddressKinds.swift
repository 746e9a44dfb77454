import CompactEncoding

/// The address rules hyperdht decides with (the `bogon` module): private ranges (including loopback, link-local and
/// the carrier-grade NAT range) and reserved ones (this network, IETF assignments, the three TEST-NETs, benchmark
/// testing, multicast, future use). A peer's advertised address in either is never dialled as its public one.
extension IPv4Endpoint {
    public var isPrivate: Bool {
        let (a, b) = (UInt8(address >> 24), UInt8(truncatingIfNeeded: address >> 16))
        return a == 10 || (a == 100 && (64...127).contains(b)) || a == 127 || (a == 169 && b == 254)
            || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168)
    }

    public var isReserved: Bool {
        let a = UInt8(address >> 24)
        let b = UInt8(truncatingIfNeeded: address >> 16)
        let c = UInt8(truncatingIfNeeded: address >> 8)
        return a == 0 || (a == 192 && b == 0 && c == 0) || (a == 192 && b == 0 && c == 2)
            || (a == 198 && (18...19).contains(b)) || (a == 198 && b == 51 && c == 100)
            || (a == 203 && b == 0 && c == 113) || a >= 224
    }

    public var isBogon: Bool { isPrivate || isReserved }
}
