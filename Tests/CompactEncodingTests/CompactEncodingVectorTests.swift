import CompactEncoding
import TestVectors
import Testing

/// Every case of `compact-encoding.json` (compact-encoding 3.2.0 and compact-encoding-net 1.2.0).
@Suite struct CompactEncodingVectorTests {
    struct Case: Decodable, CustomTestStringConvertible {
        let type: String
        let value: JSONValue
        let hex: String
        let byteLength: Int
        var testDescription: String { "\(type) \(hex.prefix(24))" }
    }
    struct ErrorCase: Decodable { let type: String; let hex: String }
    struct File: Decodable { let cases: [Case]; let decodeErrors: [ErrorCase] }

    struct UnknownCodec: Error { let type: String }
    struct BadValue: Error { let value: JSONValue }

    static let file: File = {
        do { return try ReferenceVectors.load("compact-encoding.json") } catch {
            // Surfaced by `fileLoads`; an empty list would silently test nothing, so that test fails first.
            return File(cases: [], decodeErrors: [])
        }
    }()

    @Test func fileLoads() throws {
        let file: File = try ReferenceVectors.load("compact-encoding.json")
        #expect(file.cases.count == 94)
        #expect(file.decodeErrors.count == 9)
    }

    @Test(arguments: file.cases)
    func encodesToTheReferenceBytes(_ vector: Case) throws {
        let encoded = try Self.encode(vector.type, vector.value)
        #expect(Hex.encode(encoded) == vector.hex)
        #expect(encoded.count == vector.byteLength)
        let size = try Self.encodedSize(vector.type, vector.value)
        #expect(size == vector.byteLength, "pre-encode size must equal the written size")
    }

    @Test(arguments: file.cases)
    func decodesToTheReferenceValue(_ vector: Case) throws {
        var reader = CompactReader(try Hex.decode(vector.hex))
        let decoded = try Self.decode(vector.type, &reader)
        #expect(reader.isAtEnd)
        #expect(Self.normalise(decoded) == Self.normalise(vector.value))
    }

    @Test func decodeErrorsAreRejected() throws {
        #expect(!Self.file.decodeErrors.isEmpty)
        for vector in Self.file.decodeErrors {
            var reader = CompactReader(try Hex.decode(vector.hex))
            #expect(throws: CompactEncodingError.self, "\(vector.type) \(vector.hex)") {
                switch vector.type {
                case "uint": _ = try reader.readUInt()
                case "string": _ = try reader.readString()
                case "buffer": _ = try reader.readBuffer()
                case "fixed32": _ = try reader.readFixed(length: 32)
                case "bool": _ = try reader.readBool()
                case "uint16": _ = try reader.readUInt16()
                default: throw UnknownCodec(type: vector.type)
                }
            }
        }
    }

    // MARK: - Dispatch from the vector's codec name

    static func encodedSize(_ type: String, _ value: JSONValue) throws -> Int {
        var sizer = CompactSizer()
        try write(type, value, into: &sizer)
        return sizer.count
    }

    static func encode(_ type: String, _ value: JSONValue) throws -> [UInt8] {
        var writer = CompactByteWriter()
        try write(type, value, into: &writer)
        return writer.bytes
    }

    static func write<W: CompactWriter>(_ type: String, _ value: JSONValue, into writer: inout W) throws {
        switch codec(type) {
        case "uint": writer.writeUInt(try unsigned(value))
        case "uint8": writer.writeUInt8(UInt8(try unsigned(value)))
        case "uint16": writer.writeUInt16(UInt16(try unsigned(value)))
        case "uint24": writer.writeUInt24(UInt32(try unsigned(value)))
        case "uint32": writer.writeUInt32(UInt32(try unsigned(value)))
        case "uint64": writer.writeUInt64(try unsigned(value))
        case "int":
            guard let number = value.integerValue else { throw BadValue(value: value) }
            writer.writeInt(number)
        case "float64": writer.writeFloat64(try double(value))
        case "bool":
            guard case .bool(let flag) = value else { throw BadValue(value: value) }
            writer.writeBool(flag)
        case "string": writer.writeString(try string(value))
        case "buffer": writer.writeBuffer(try Hex.decode(try string(value)))
        case "optionalBuffer":
            writer.writeOptionalBuffer(value == .null ? nil : try Hex.decode(try string(value)))
        case "raw": writer.writeRaw(try Hex.decode(try string(value)))
        case "fixed32": writer.writeFixed(try Hex.decode(try string(value)), length: 32)
        case "fixed64": writer.writeFixed(try Hex.decode(try string(value)), length: 64)
        case "ipv4Address": writer.write(try ipv4(value))
        case "ipv6Address": writer.write(try ipv6(value))
        case let name where name.hasPrefix("array("):
            guard let items = value.arrayValue else { throw BadValue(value: value) }
            let element = String(name.dropFirst("array(".count).dropLast())
            writer.writeUInt(UInt64(items.count))
            for item in items { try write(element, item, into: &writer) }
        default: throw UnknownCodec(type: type)
        }
    }

    static func decode(_ type: String, _ reader: inout CompactReader) throws -> JSONValue {
        switch codec(type) {
        case "uint": return .integer(Int64(try reader.readUInt()))
        case "uint8": return .integer(Int64(try reader.readUInt8()))
        case "uint16": return .integer(Int64(try reader.readUInt16()))
        case "uint24": return .integer(Int64(try reader.readUInt24()))
        case "uint32": return .integer(Int64(try reader.readUInt32()))
        case "uint64": return .integer(Int64(try reader.readUInt64()))
        case "int": return .integer(try reader.readInt())
        case "float64": return .double(try reader.readFloat64())
        case "bool": return .bool(try reader.readBool())
        case "string": return .string(try reader.readString())
        case "buffer": return .string(Hex.encode(try reader.readBuffer()))
        case "optionalBuffer": return try reader.readOptionalBuffer().map { .string(Hex.encode($0)) } ?? .null
        case "raw": return .string(Hex.encode(reader.readRemaining()))
        case "fixed32": return .string(Hex.encode(try reader.readFixed(length: 32)))
        case "fixed64": return .string(Hex.encode(try reader.readFixed(length: 64)))
        case "ipv4Address":
            let endpoint = try reader.read(IPv4Endpoint.self)
            return .object(["host": .string(endpoint.host), "port": .integer(Int64(endpoint.port))])
        case "ipv6Address":
            let endpoint = try reader.read(IPv6Endpoint.self)
            return .object(["host": .string(endpoint.host), "port": .integer(Int64(endpoint.port))])
        case let name where name.hasPrefix("array("):
            let element = String(name.dropFirst("array(".count).dropLast())
            let count = try reader.readLength()
            var items: [JSONValue] = []
            for _ in 0..<count { items.append(try decode(element, &reader)) }
            return .array(items)
        default: throw UnknownCodec(type: type)
        }
    }

    /// The codec name without the vector file's explanation in parentheses ("uint16", "array(uint)").
    static func codec(_ type: String) -> String {
        String(type.prefix { $0 != " " })
    }

    static func normalise(_ value: JSONValue) -> JSONValue {
        switch value {
        case .integer(let number): .double(Double(number))
        case .array(let items): .array(items.map(normalise))
        case .object(let fields): .object(fields.mapValues(normalise))
        default: value
        }
    }

    static func unsigned(_ value: JSONValue) throws -> UInt64 {
        guard let number = value.integerValue, number >= 0 else { throw BadValue(value: value) }
        return UInt64(number)
    }

    static func double(_ value: JSONValue) throws -> Double {
        switch value {
        case .integer(let number): return Double(number)
        case .double(let number): return number
        default: throw BadValue(value: value)
        }
    }

    static func string(_ value: JSONValue) throws -> String {
        guard let text = value.stringValue else { throw BadValue(value: value) }
        return text
    }

    static func ipv4(_ value: JSONValue) throws -> IPv4Endpoint {
        guard let host = value["host"]?.stringValue, let port = value["port"]?.integerValue,
            let endpoint = IPv4Endpoint(host: host, port: UInt16(port))
        else { throw BadValue(value: value) }
        return endpoint
    }

    static func ipv6(_ value: JSONValue) throws -> IPv6Endpoint {
        guard let host = value["host"]?.stringValue, let port = value["port"]?.integerValue,
            let endpoint = IPv6Endpoint(host: host, port: UInt16(port))
        else { throw BadValue(value: value) }
        return endpoint
    }
}
