import Foundation

/// Loads the Holepunch reference vectors that the project carries as test resources (copied unchanged from
/// `../shared/vectors`). A missing or unreadable file is an error that fails the test, never an empty case list.
public enum ReferenceVectors {
    public enum LoadError: Error, CustomStringConvertible {
        case missing(String)
        case unreadable(String, underlying: any Error)

        public var description: String {
            switch self {
            case .missing(let name): "reference vector file \(name) is not among the test resources"
            case .unreadable(let name, let error): "reference vector file \(name) could not be read: \(error)"
            }
        }
    }

    /// The bundled file names, for the check that copies match `../shared/vectors`.
    public static var bundledFileNames: [String] {
        get throws {
            let directory = try directoryURL()
            return try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".json") }.sorted()
        }
    }

    public static func directoryURL() throws -> URL {
        guard let url = Bundle.module.url(forResource: "Vectors", withExtension: nil) else {
            throw LoadError.missing("Vectors/")
        }
        return url
    }

    /// Raw bytes of a bundled vector file.
    public static func data(_ name: String) throws -> Data {
        let url = try directoryURL().appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw LoadError.missing(name) }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw LoadError.unreadable(name, underlying: error)
        }
    }

    /// Decodes a bundled vector file into a `Decodable` model.
    public static func load<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        let data = try data(name)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw LoadError.unreadable(name, underlying: error)
        }
    }

    /// `../shared/vectors` beside the repository, when this checkout has it (CI does; a lone clone may not).
    public static var sharedDirectory: URL? {
        let repositoryRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shared = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: shared.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { return nil }
        return shared
    }
}

/// Hex helpers for vector files.
public enum Hex {
    public struct InvalidHex: Error, CustomStringConvertible {
        public let text: String
        public var description: String { "invalid hex string: \(text.prefix(40))" }
    }

    public static func decode(_ text: String) throws -> [UInt8] {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { throw InvalidHex(text: text) }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = nibble(chars[index]), let low = nibble(chars[index + 1]) else {
                throw InvalidHex(text: text)
            }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Any JSON value, for vector fields whose type varies from case to case.
public enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
