import Foundation
import CompactEncoding

/// One line of a room as it is stored in its author's log: a compact-encoded, versioned record.
///
/// Version 1 layout: `uint version (1)`, `uint kind`, `uint timestamp` (milliseconds since the Unix epoch, the
/// author's wall clock), `uint lamport`, `array(head)` with head = `fixed32 writer key ‖ uint length` (how much of
/// each other writer's log the author had seen), `string text`, then optionally `string msgid` (the IRC message id the
/// author's gateway gave the line, so an echoed line and the same line in history carry one id everywhere). A
/// reader skips entries with a newer version or an unknown kind instead of failing: logs outlive the software that
/// reads them.
public struct RoomEntry: Hashable, Sendable {
    /// What the line is. Raw values are the wire numbers.
    public enum Kind: UInt64, Sendable, CaseIterable {
        case message = 0
        case action = 1
        case notice = 2
        case topic = 3
        case nick = 4
        case join = 5
        case part = 6
        /// Binds this writer log to its author's identity (`WriterIdentity`); written first, shown as nothing.
        case identity = 7
    }

    /// Another writer's log length as the author had seen it.
    public struct Head: Hashable, Sendable {
        public var writer: [UInt8]
        public var length: UInt64

        public init(writer: [UInt8], length: UInt64) {
            self.writer = writer
            self.length = length
        }
    }

    public static let currentVersion: UInt64 = 1
    /// Longest text accepted when decoding (IRC lines are far shorter; this only bounds allocation).
    public static let maximumTextBytes = 16 * 1024
    /// Most heads accepted when decoding.
    public static let maximumHeads = 1024

    public var kind: Kind
    public var timestamp: UInt64
    public var lamport: UInt64
    public var heads: [Head]
    /// Message text, /me text, notice text, new topic, new nick, or part reason.
    public var text: String
    /// The IRC msgid the author's gateway gave the line, when it had one (letters, digits, `.`, `_`, `-`; ≤ 64).
    public var messageID: String?

    public init(
        kind: Kind, timestamp: UInt64, lamport: UInt64, heads: [Head] = [], text: String, messageID: String? = nil
    ) {
        self.kind = kind
        self.timestamp = timestamp
        self.lamport = lamport
        self.heads = heads
        self.text = text
        self.messageID = messageID.flatMap(Self.validMessageID)
    }

    /// A msgid is shown to IRC clients as a tag value: keep it short and plain, or drop it.
    static func validMessageID(_ id: String) -> String? {
        // ASCII letters, digits and `._-`, checked byte by byte (every replicated line's msgid passes here).
        guard !id.isEmpty, id.utf8.count <= 64,
            id.utf8.allSatisfy({ byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            })
        else { return nil }
        return id
    }

    /// The stored bytes.
    public func encoded() -> [UInt8] {
        Versioned(entry: self).compactEncoded()
    }

    /// What a block decodes to.
    public enum Decoded: Hashable, Sendable {
        case entry(RoomEntry)
        /// A newer format or kind this version cannot show; skip it, do not fail.
        case unsupported(version: UInt64, kind: UInt64?)
    }

    /// Decodes a block. Malformed bytes are an error (the block was signed by its author, so the author wrote
    /// garbage); a newer version or unknown kind is `.unsupported`.
    public static func decode(_ bytes: [UInt8]) throws(CompactEncodingError) -> Decoded {
        var reader = CompactReader(bytes)
        let version = try reader.readUInt()
        guard version == currentVersion else { return .unsupported(version: version, kind: nil) }
        let rawKind = try reader.readUInt()
        let timestamp = try reader.readUInt()
        let lamport = try reader.readUInt()
        let heads = try reader.readArray(minimumElementSize: 33, limit: maximumHeads) {
            (r: inout CompactReader) throws(CompactEncodingError) in
            Head(writer: try r.readFixed(length: 32), length: try r.readUInt())
        }
        let text = try reader.readString(limit: maximumTextBytes)
        // The optional msgid; anything after it is ignored, so later minor additions stay readable.
        let messageID = reader.isAtEnd ? nil : try? reader.readString(limit: 256)
        guard let kind = Kind(rawValue: rawKind) else { return .unsupported(version: version, kind: rawKind) }
        return .entry(
            RoomEntry(kind: kind, timestamp: timestamp, lamport: lamport, heads: heads, text: text, messageID: messageID))
    }

    private struct Versioned: CompactEncodable {
        let entry: RoomEntry

        func encode<W: CompactWriter>(to writer: inout W) {
            writer.writeUInt(RoomEntry.currentVersion)
            writer.writeUInt(entry.kind.rawValue)
            writer.writeUInt(entry.timestamp)
            writer.writeUInt(entry.lamport)
            writer.writeArray(entry.heads) { w, head in
                w.writeFixed(head.writer, length: 32)
                w.writeUInt(head.length)
            }
            writer.writeString(entry.text)
            if let messageID = entry.messageID { writer.writeString(messageID) }
        }
    }
}
