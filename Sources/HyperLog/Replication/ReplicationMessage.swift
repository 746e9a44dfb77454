import CompactEncoding

/// Every message of a `hypercore/alpha` channel, with its protomux message type.
public enum ReplicationMessage: Hashable, Sendable {
    public static let protocolName = "hypercore/alpha"

    case sync(SyncMessage)
    case request(RequestMessage)
    case cancel(CancelMessage)
    case data(DataMessage)
    case noData(NoDataMessage)
    case want(WantMessage)
    case unwant(WantMessage)
    case bitfield(BitfieldMessage)
    case range(RangeMessage)
    case `extension`(ExtensionMessage)

    /// The protomux message type (its position in the channel's message list).
    public var type: UInt64 {
        switch self {
        case .sync: 0
        case .request: 1
        case .cancel: 2
        case .data: 3
        case .noData: 4
        case .want: 5
        case .unwant: 6
        case .bitfield: 7
        case .range: 8
        case .extension: 9
        }
    }

    /// The message's encoding (without the protomux type and channel framing).
    public func encoded() -> [UInt8] {
        switch self {
        case .sync(let m): m.compactEncoded()
        case .request(let m): m.compactEncoded()
        case .cancel(let m): m.compactEncoded()
        case .data(let m): m.compactEncoded()
        case .noData(let m): m.compactEncoded()
        case .want(let m), .unwant(let m): m.compactEncoded()
        case .bitfield(let m): m.compactEncoded()
        case .range(let m): m.compactEncoded()
        case .extension(let m): m.compactEncoded()
        }
    }

    /// Decodes a message of protomux type `type`. Unknown types and malformed bodies are errors.
    public init(type: UInt64, bytes: [UInt8]) throws(CompactEncodingError) {
        switch type {
        case 0: self = .sync(try SyncMessage(compactEncoded: bytes))
        case 1: self = .request(try RequestMessage(compactEncoded: bytes))
        case 2: self = .cancel(try CancelMessage(compactEncoded: bytes))
        case 3: self = .data(try DataMessage(compactEncoded: bytes))
        case 4: self = .noData(try NoDataMessage(compactEncoded: bytes))
        case 5: self = .want(try WantMessage(compactEncoded: bytes))
        case 6: self = .unwant(try WantMessage(compactEncoded: bytes))
        case 7: self = .bitfield(try BitfieldMessage(compactEncoded: bytes))
        case 8: self = .range(try RangeMessage(compactEncoded: bytes))
        case 9: self = .extension(try ExtensionMessage(compactEncoded: bytes))
        default: throw .invalidValue("unknown hypercore message type \(type)")
        }
    }
}
