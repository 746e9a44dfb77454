import CompactEncoding
import TestVectors
import Testing

/// A composite message in the style every wire type follows: one `encode(to:)` gives both size and bytes.
struct SampleMessage: CompactCodable, Equatable {
    var flags: UInt64
    var id: [UInt8]
    var name: String
    var tags: [String]
    var peer: IPv4Endpoint?
    var score: Int64

    func encode<W: CompactWriter>(to writer: inout W) {
        writer.writeUInt(peer == nil ? 0 : 1)
        writer.writeUInt(flags)
        writer.writeFixed(id, length: 32)
        writer.writeString(name)
        writer.writeArray(tags) { $0.writeString($1) }
        if let peer { writer.write(peer) }
        writer.writeInt(score)
    }

    init(flags: UInt64, id: [UInt8], name: String, tags: [String], peer: IPv4Endpoint?, score: Int64) {
        (self.flags, self.id, self.name, self.tags, self.peer, self.score) = (flags, id, name, tags, peer, score)
    }

    init(from reader: inout CompactReader) throws(CompactEncodingError) {
        let presence = try reader.readUInt()
        flags = try reader.readUInt()
        id = try reader.readFixed(length: 32)
        name = try reader.readString(limit: 1024)
        tags = try reader.readArray(limit: 64) { (r: inout CompactReader) throws(CompactEncodingError) in
            try r.readString(limit: 256)
        }
        peer = presence & 1 != 0 ? try reader.read(IPv4Endpoint.self) : nil
        score = try reader.readInt()
    }
}

@Suite struct CompactEncodingPropertyTests {
    @Test func unsignedRoundTripAtEveryWidth() throws {
        var rng = SeededGenerator(seed: 1)
        var values: [UInt64] = [0, 252, 253, 0xffff, 0x10000, 0xffff_ffff, 0x1_0000_0000, .max]
        for _ in 0..<2000 { values.append(rng.next() >> UInt64.random(in: 0...63, using: &rng)) }
        for value in values {
            var writer = CompactByteWriter()
            writer.writeUInt(value)
            var reader = CompactReader(writer.bytes)
            #expect(try reader.readUInt() == value)
            #expect(reader.isAtEnd)
        }
    }

    @Test func signedRoundTrip() throws {
        var rng = SeededGenerator(seed: 2)
        var values: [Int64] = [0, -1, 1, .min, .max, -127, 126]
        for _ in 0..<2000 { values.append(Int64(bitPattern: rng.next()) >> Int64.random(in: 0...63, using: &rng)) }
        for value in values {
            var writer = CompactByteWriter()
            writer.writeInt(value)
            var reader = CompactReader(writer.bytes)
            #expect(try reader.readInt() == value)
        }
    }

    @Test func compositeRoundTripAndExactSize() throws {
        var rng = SeededGenerator(seed: 3)
        for round in 0..<300 {
            let message = SampleMessage(
                flags: rng.next() >> 20, id: rng.bytes(32),
                name: String(repeating: "é", count: Int.random(in: 0...300, using: &rng)),
                tags: (0..<Int.random(in: 0...5, using: &rng)).map { "t\($0)" },
                peer: round % 2 == 0 ? IPv4Endpoint(address: UInt32.random(in: 0...UInt32.max, using: &rng), port: 7) : nil,
                score: Int64(bitPattern: rng.next()))
            let bytes = message.compactEncoded()
            #expect(bytes.count == message.compactEncodedSize)
            #expect(try SampleMessage(compactEncoded: bytes) == message)
        }
    }

    @Test func trailingBytesAreRejectedByWholeMessageDecode() throws {
        let message = SampleMessage(flags: 1, id: [UInt8](repeating: 1, count: 32), name: "x", tags: [], peer: nil, score: 0)
        #expect(throws: CompactEncodingError.trailingBytes(count: 1)) {
            try SampleMessage(compactEncoded: message.compactEncoded() + [0])
        }
    }

    @Test func everyTruncationFailsCleanly() throws {
        let message = SampleMessage(
            flags: 99, id: [UInt8](repeating: 2, count: 32), name: "hello", tags: ["a", "b"],
            peer: IPv4Endpoint(host: "10.0.0.1", port: 9), score: -5)
        let bytes = message.compactEncoded()
        for length in 0..<bytes.count {
            #expect(throws: CompactEncodingError.self) { try SampleMessage(compactEncoded: Array(bytes.prefix(length))) }
        }
    }

    @Test func hugeDeclaredLengthsAllocateNothing() throws {
        // A buffer claiming 2^64-1 bytes, an array claiming 4 billion elements, a string over its limit.
        var reader = CompactReader([0xff] + [UInt8](repeating: 0xff, count: 8) + [1, 2, 3])
        #expect(throws: CompactEncodingError.self) { try reader.readBuffer() }
        var arrayReader = CompactReader([0xfe, 0xff, 0xff, 0xff, 0xff, 1])
        #expect(throws: CompactEncodingError.self) {
            try arrayReader.readArray { (r: inout CompactReader) throws(CompactEncodingError) in try r.readUInt() }
        }
        var limited = CompactReader([5] + Array("hello".utf8))
        #expect(throws: CompactEncodingError.lengthTooLarge(declared: 5, limit: 4)) { try limited.readString(limit: 4) }
    }

    @Test func randomGarbageNeverTraps() {
        var rng = SeededGenerator(seed: 4)
        var decoded = 0
        for _ in 0..<20_000 {
            let garbage = rng.bytes(Int.random(in: 0...80, using: &rng))
            if (try? SampleMessage(compactEncoded: garbage)) != nil { decoded += 1 }
            var reader = CompactReader(garbage)
            _ = try? reader.readString()
            _ = try? reader.readArray { (r: inout CompactReader) throws(CompactEncodingError) in try r.readBuffer() }
            _ = try? reader.read(IPv6Endpoint.self)
        }
        // Almost all garbage must be refused (a valid SampleMessage needs a 32-byte id and consistent lengths).
        #expect(decoded < 200)
    }

    @Test func invalidUTF8IsReplacedLikeTheReference() throws {
        var reader = CompactReader([2, 0xc3, 0x28])
        #expect(try reader.readString() == "\u{FFFD}(")
    }

    @Test func endpointTextParsing() {
        #expect(IPv4Endpoint(host: "1.2.3.4", port: 1)?.host == "1.2.3.4")
        #expect(IPv4Endpoint(host: "256.1.1.1", port: 1) == nil)
        #expect(IPv4Endpoint(host: "1.2.3", port: 1) == nil)
        #expect(IPv4Endpoint(host: "a.b.c.d", port: 1) == nil)
        #expect(IPv4Endpoint(host: "1..2.3", port: 1) == nil)
        #expect(IPv6Endpoint(host: "::1", port: 1)?.host == "::1")
        #expect(IPv6Endpoint(host: "not-an-address", port: 1) == nil)
        #expect(IPv6Endpoint(addressBytes: [1, 2], port: 1) == nil)
    }
}
