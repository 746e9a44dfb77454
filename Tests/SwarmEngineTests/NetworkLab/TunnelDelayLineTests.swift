import Testing

@testable import NetworkLab

/// The delay line's address rewrite keeps every checksum valid without recomputing it, and leaves anything that is
/// not IPv4 between its two prefixes to be dropped.
struct TunnelDelayLineTests {
    /// The ones'-complement sum of 16-bit words, folded: 0xffff over a header whose checksum is right.
    static func onesComplementSum(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt32 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let high = UInt32(bytes[index]) << 8
            let low = index + 1 < bytes.endIndex ? UInt32(bytes[index + 1]) : 0
            sum += high | low
            index += 2
        }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return UInt16(sum)
    }

    /// An IPv4 + UDP packet from `source` to `destination` with both checksums filled in.
    static func packet(source: [UInt8], destination: [UInt8], payload: [UInt8]) -> [UInt8] {
        let udpLength = 8 + payload.count
        var ip: [UInt8] = [0x45, 0, 0, UInt8(20 + udpLength), 0, 1, 0, 0, 64, 17, 0, 0] + source + destination
        let ipSum = ~onesComplementSum(ip[...])
        ip[10] = UInt8(ipSum >> 8)
        ip[11] = UInt8(ipSum & 0xff)
        var udp: [UInt8] = [0x30, 0x39, 0xd4, 0x31, 0, UInt8(udpLength), 0, 0] + payload
        let pseudo = source + destination + [0, 17, 0, UInt8(udpLength)]
        let udpSum = ~onesComplementSum((pseudo + udp)[...])
        udp[6] = UInt8(udpSum >> 8)
        udp[7] = UInt8(udpSum & 0xff)
        return ip + udp
    }

    static func checksumsHold(_ packet: [UInt8]) -> Bool {
        let pseudo = Array(packet[12..<20]) + [0, 17, 0, UInt8(packet.count - 20)]
        return onesComplementSum(packet[0..<20]) == 0xffff
            && onesComplementSum((pseudo + packet[20...])[...]) == 0xffff
    }

    @Test func rewritingSwapsThePrefixesAndKeepsTheChecksums() {
        var packet = Self.packet(source: [10, 200, 0, 1], destination: [10, 201, 0, 2], payload: Array("hello".utf8))
        #expect(Self.checksumsHold(packet))
        #expect(TunnelDelayLine.rewrite(&packet))
        #expect(Array(packet[12..<20]) == [10, 201, 0, 1, 10, 200, 0, 2])
        #expect(Self.checksumsHold(packet))
    }

    @Test func packetsOutsideTheTwoPrefixesAreRefused() {
        var wrongWay = Self.packet(source: [10, 201, 0, 1], destination: [10, 200, 0, 2], payload: [1])
        #expect(!TunnelDelayLine.rewrite(&wrongWay))
        var elsewhere = Self.packet(source: [10, 200, 0, 1], destination: [192, 168, 1, 1], payload: [1])
        #expect(!TunnelDelayLine.rewrite(&elsewhere))
        var ipv6 = [UInt8](repeating: 0, count: 40)
        ipv6[0] = 0x60
        #expect(!TunnelDelayLine.rewrite(&ipv6))
        var truncated: [UInt8] = [0x45, 0, 0]
        #expect(!TunnelDelayLine.rewrite(&truncated))
    }
}
