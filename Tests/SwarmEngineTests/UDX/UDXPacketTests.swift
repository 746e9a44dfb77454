import NIOCore
import SwarmEngine
import TestVectors
import Testing

/// `udx.json` (made from libudx's header layout and from real udx-native sessions): every constructed header encodes
/// byte for byte and decodes to its fields; every captured packet decodes to its recorded fields and encodes back to
/// its bytes. Bad datagrams are errors or ignored blocks, never a crash.
@Suite struct UDXPacketTests {
    struct File: Decodable {
        /// A header's fields as the file names them (captured packets also give the data offset and payload length).
        struct Header: Decodable {
            let type: UInt8
            let remoteId: UInt32
            let rwnd: UInt32
            let seq: UInt32
            let ack: UInt32
            let dataOffset: UInt8?
            let payloadLength: Int?
        }

        struct Constructed: Decodable {
            let name: String
            let fields: Header
            let hex: String
            let payload: String?
        }

        struct Captured: Decodable {
            let from: String
            let decoded: Header
            let hex: String
            let fullLength: Int
        }

        let constants: [String: String]
        let constructed: [Constructed]
        let captured: [Captured]
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    static let file: File = try! ReferenceVectors.load("udx.json")

    @Test func theConstantsAreLibudxs() {
        let constants = Self.file.constants
        #expect(constants["UDX_HEADER_SIZE"] == "\(UDXPacket.headerSize)")
        #expect(constants["UDX_MAGIC_BYTE"] == "\(UDXPacket.magic)")
        #expect(constants["UDX_VERSION"] == "\(UDXPacket.version)")
        let flags: [(String, UDXPacket.Flags)] = [
            ("UDX_HEADER_DATA", .data), ("UDX_HEADER_END", .end), ("UDX_HEADER_SACK", .sack),
            ("UDX_HEADER_MESSAGE", .message), ("UDX_HEADER_DESTROY", .destroy), ("UDX_HEADER_HEARTBEAT", .heartbeat),
        ]
        for (name, flag) in flags {
            let text = try? #require(constants[name])
            #expect(text.flatMap { UInt8($0.dropFirst(2), radix: 2) } == flag.rawValue, "\(name)")
        }
    }

    @Test(arguments: file.constructed.indices) func constructedHeadersEncodeAndDecodeByteForByte(_ index: Int) throws {
        let vector = Self.file.constructed[index]
        let body = vector.payload.map(Self.bytes) ?? []
        let packet = UDXPacket(
            flags: UDXPacket.Flags(rawValue: vector.fields.type), remoteID: vector.fields.remoteId,
            receiveWindow: vector.fields.rwnd, sequence: vector.fields.seq, acknowledgement: vector.fields.ack, body: body)
        #expect(packet.encoded() == Self.bytes(vector.hex), "\(vector.name)")
        let decoded = try UDXPacket(decoding: Self.bytes(vector.hex))
        #expect(decoded == packet, "\(vector.name)")
        #expect(decoded.dataOffset == 0)
    }

    @Test func theSACKVectorReadsAsLibudxReadsIt() throws {
        let vector = try #require(Self.file.constructed.first { $0.fields.type == UDXPacket.Flags.sack.rawValue })
        let packet = try UDXPacket(decoding: Self.bytes(vector.hex))
        // "received 12..13 and 15 (end exclusive)".
        #expect(packet.sackBlocks.map { [$0.start, $0.end] } == [[12, 14], [15, 16]])
        let built = UDXPacket.acknowledgement(
            remoteID: vector.fields.remoteId, receiveWindow: vector.fields.rwnd, sequence: vector.fields.seq,
            acknowledgement: vector.fields.ack, sacks: [.init(start: 12, end: 14), .init(start: 15, end: 16)])
        #expect(built.encoded() == Self.bytes(vector.hex))
        // Without blocks, an ack is type 0 and 20 bytes.
        let plain = UDXPacket.acknowledgement(remoteID: 7, receiveWindow: 1, sequence: 2, acknowledgement: 3)
        #expect(plain.flags == [] && plain.encoded().count == UDXPacket.headerSize)
    }

    @Test(arguments: file.captured.indices) func capturedPacketsDecodeToTheirRecordedFields(_ index: Int) throws {
        let vector = Self.file.captured[index]
        let bytes = Self.bytes(vector.hex)
        #expect(bytes.count == vector.fullLength)
        let packet = try UDXPacket(decoding: bytes)
        #expect(packet.flags.rawValue == vector.decoded.type)
        #expect(packet.dataOffset == (try #require(vector.decoded.dataOffset)))
        #expect(packet.remoteID == vector.decoded.remoteId)
        #expect(packet.receiveWindow == vector.decoded.rwnd)
        #expect(packet.sequence == vector.decoded.seq)
        #expect(packet.acknowledgement == vector.decoded.ack)
        #expect(packet.payload.readableBytes == (try #require(vector.decoded.payloadLength)))
        #expect(packet.encoded() == bytes)
    }

    @Test func datagramsThatAreNotUDXAreHandedBackNotRead() {
        // Shorter than a header (the one-byte hole-punch probe, for one), or another protocol's (dht-rpc starts 0x03).
        for length in 0..<UDXPacket.headerSize {
            #expect(throws: UDXPacket.DecodeError.notUDX) { try UDXPacket(decoding: [UInt8](repeating: 0xff, count: length)) }
        }
        var wrongVersion = UDXPacket(flags: .data, remoteID: 1, receiveWindow: 1, sequence: 0, acknowledgement: 0).encoded()
        wrongVersion[1] = 2
        #expect(throws: UDXPacket.DecodeError.notUDX) { try UDXPacket(decoding: wrongVersion) }
        var dht = wrongVersion
        dht[0] = 0x03
        dht[1] = 1
        #expect(throws: UDXPacket.DecodeError.notUDX) { try UDXPacket(decoding: dht) }
    }

    @Test func aDataOffsetPastTheEndIsRefusedAndOneInsideSplitsBlocksFromData() throws {
        var header = UDXPacket(flags: [.sack, .data], remoteID: 1, receiveWindow: 1, sequence: 0, acknowledgement: 0)
        header.body = ByteBuffer(bytes: [1, 0, 0, 0, 2, 0, 0, 0] + Array("data".utf8))
        var bytes = header.encoded()
        let bodyLength = header.body.readableBytes
        bytes[3] = UInt8(bodyLength + 1)
        #expect(throws: UDXPacket.DecodeError.dataOffsetBeyondPacket(offset: bodyLength + 1, body: bodyLength)) {
            try UDXPacket(decoding: bytes)
        }
        bytes[3] = 8
        let packet = try UDXPacket(decoding: bytes)
        #expect(packet.sackBlocks.map { [$0.start, $0.end] } == [[1, 2]])
        #expect(Array(packet.payload.readableBytesView) == Array("data".utf8))
    }

    @Test func aTrailingPartialSACKBlockIsIgnoredAndBlocksAreCappedWhenSent() throws {
        var packet = UDXPacket(flags: .sack, remoteID: 1, receiveWindow: 1, sequence: 0, acknowledgement: 0)
        packet.body = ByteBuffer(bytes: [5, 0, 0, 0, 9, 0, 0, 0, 0xaa, 0xbb, 0xcc])
        #expect(try UDXPacket(decoding: packet.encoded()).sackBlocks.map { [$0.start, $0.end] } == [[5, 9]])
        let many = (0..<UInt32(80)).map { UDXPacket.SACKBlock(start: $0 * 4, end: $0 * 4 + 2) }
        let ack = UDXPacket.acknowledgement(remoteID: 1, receiveWindow: 1, sequence: 0, acknowledgement: 0, sacks: many)
        #expect(ack.sackBlocks.count == UDXPacket.maximumSACKBlocks)
    }

    /// Seeded random datagrams, half with a UDX header in front: each decodes or is refused, and what decodes encodes
    /// back to the same bytes.
    @Test func randomDatagramsNeverTrapAndRoundTrip() {
        var generator = SeededGenerator(seed: 0x5544_5850)
        for round in 0..<20_000 {
            var bytes = generator.bytes(Int(generator.next() % 96))
            if round % 2 == 0, bytes.count >= 2 { bytes[0] = UDXPacket.magic; bytes[1] = UDXPacket.version }
            guard let packet = try? UDXPacket(decoding: bytes) else { continue }
            #expect(packet.encoded() == bytes)
            #expect(packet.sackBlocks.count <= bytes.count / 8)
        }
    }
}
