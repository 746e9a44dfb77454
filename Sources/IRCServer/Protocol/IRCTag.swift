/// One IRCv3 message tag: a key and an optional value.
///
/// Matches the IRCv3 message-tags specification: a key is an optional client-only prefix `+`, an optional vendor
/// (a host name) followed by `/`, and a name of ASCII letters, digits and `-`. A tag written without `=` has a
/// *missing* value (`nil`); `key=` has an *empty* value (`""`). The two are kept apart so a message round-trips
/// byte for byte; the spec forbids turning missing into empty.
public struct IRCTag: Hashable, Sendable {
    /// The full key as on the wire, including any `+` and `vendor/` prefix.
    public var key: String
    /// The unescaped value; `nil` when the tag had no `=`.
    public var value: String?

    public init(key: String, value: String? = nil) {
        self.key = key
        self.value = value
    }

    /// True for a client-only tag (key starts with `+`), which servers relay but never interpret.
    public var isClientOnly: Bool { key.utf8.first == UInt8(ascii: "+") }

    /// The vendor namespace (`example.com` in `+example.com/foo`), if any.
    public var vendor: Substring? {
        let bare = isClientOnly ? key.dropFirst() : key[...]
        guard let slash = bare.lastIndex(of: "/") else { return nil }
        return bare[..<slash]
    }

    /// True when `key` is a syntactically valid tag key.
    public static func isValidKey(_ key: String) -> Bool {
        isValidKey(utf8: Array(key.utf8)[...])
    }

    static func isValidKey(utf8 key: ArraySlice<UInt8>) -> Bool {
        var rest = key
        if rest.first == UInt8(ascii: "+") { rest = rest.dropFirst() }
        var name = rest
        if let slash = rest.lastIndex(of: UInt8(ascii: "/")) {
            let vendor = rest[..<slash]
            name = rest[(slash + 1)...]
            let isVendorByte = { (byte: UInt8) in
                isASCIILetter(byte) || isASCIIDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
            guard !vendor.isEmpty, vendor.allSatisfy(isVendorByte) else { return false }
        }
        return !name.isEmpty && name.allSatisfy { isASCIILetter($0) || isASCIIDigit($0) || $0 == UInt8(ascii: "-") }
    }

    /// Escapes a tag value for the wire: `;` → `\:`, space → `\s`, `\` → `\\`, CR → `\r`, LF → `\n`.
    /// NUL cannot be escaped; the encoder refuses values that contain it.
    public static func escape(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: ";"): out += [UInt8(ascii: "\\"), UInt8(ascii: ":")]
            case UInt8(ascii: " "): out += [UInt8(ascii: "\\"), UInt8(ascii: "s")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The unescaped value of tag `key` in a raw line that may not parse as a whole (an unknown command, a bad tag
    /// elsewhere): labeled-response still owes such a line's error reply its `label`. Nil when the line has no tag
    /// section or no such tag.
    public static func value<Bytes: Collection<UInt8>>(of key: String, inRawLine line: Bytes) -> String? {
        guard line.first == UInt8(ascii: "@") else { return nil }
        let section = line.dropFirst().prefix { $0 != UInt8(ascii: " ") }
        let wanted = Array(key.utf8)
        for entry in section.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: true) {
            let name = entry.prefix { $0 != UInt8(ascii: "=") }
            guard name.elementsEqual(wanted) else { continue }
            return String(decoding: unescape(entry.dropFirst(name.count + 1)), as: UTF8.self)
        }
        return nil
    }

    /// Unescapes a raw tag value, one character at a time as the spec requires (`\\n` is `\` then `n`, not LF).
    /// A backslash before any other character is dropped (`\1` → `1`); a trailing lone backslash is dropped.
    public static func unescape<Bytes: Collection<UInt8>>(_ raw: Bytes) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var escaping = false
        for byte in raw {
            if escaping {
                escaping = false
                switch byte {
                case UInt8(ascii: ":"): out.append(UInt8(ascii: ";"))
                case UInt8(ascii: "s"): out.append(UInt8(ascii: " "))
                case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                default: out.append(byte)  // covers `\\` and unknown escapes alike
                }
            } else if byte == UInt8(ascii: "\\") {
                escaping = true
            } else {
                out.append(byte)
            }
        }
        return out
    }
}

/// The tags of one message, in wire order, with unique keys.
///
/// An ordered list rather than a dictionary so that encoding is deterministic and round-trips. Setting a key that is
/// already present replaces its value in place; the parser uses this so a duplicated key keeps its first position
/// and its last value (message-tags: "disregard all but the final occurrence").
public struct IRCTags: Hashable, Sendable {
    public private(set) var entries: [IRCTag]

    public init() {
        entries = []
    }

    public init(_ tags: [IRCTag]) {
        entries = []
        for tag in tags { set(tag.key, tag.value) }
    }

    /// The tag with `key`, if present.
    public subscript(key: String) -> IRCTag? {
        entries.first { $0.key == key }
    }

    /// True when a tag with `key` is present (with or without a value).
    public func contains(_ key: String) -> Bool {
        entries.contains { $0.key == key }
    }

    /// Sets `key` to `value` (`nil`: present without value), replacing an existing value in place.
    public mutating func set(_ key: String, _ value: String?) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        } else {
            entries.append(IRCTag(key: key, value: value))
        }
    }

    /// Removes the tag with `key`, if present.
    public mutating func remove(_ key: String) {
        entries.removeAll { $0.key == key }
    }

    /// Keeps only the tags for which `isIncluded` holds (e.g. to strip tags a client has not negotiated).
    public mutating func filter(_ isIncluded: (IRCTag) -> Bool) {
        entries = entries.filter(isIncluded)
    }
}

extension IRCTags: RandomAccessCollection {
    public var startIndex: Int { entries.startIndex }
    public var endIndex: Int { entries.endIndex }
    public subscript(position: Int) -> IRCTag { entries[position] }
}

extension IRCTags: ExpressibleByDictionaryLiteral {
    /// `["msgid": "abc", "+draft/typing": "active", "bot": nil]`, in literal order.
    public init(dictionaryLiteral elements: (String, String?)...) {
        self.init(elements.map { IRCTag(key: $0.0, value: $0.1) })
    }
}
