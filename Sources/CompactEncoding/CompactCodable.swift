/// A value that describes its compact encoding once; size and bytes are both derived from `encode(to:)`.
public protocol CompactEncodable {
    func encode<W: CompactWriter>(to writer: inout W)
}

/// A value that can be decoded from compact-encoded bytes.
public protocol CompactDecodable {
    init(from reader: inout CompactReader) throws(CompactEncodingError)
}

public typealias CompactCodable = CompactEncodable & CompactDecodable

extension CompactEncodable {
    /// The exact number of bytes `compactEncoded()` will produce (the reference's `preencode`).
    public var compactEncodedSize: Int {
        var sizer = CompactSizer()
        encode(to: &sizer)
        return sizer.count
    }

    /// The encoding, written into one allocation of exactly the right size.
    public func compactEncoded() -> [UInt8] {
        var writer = CompactByteWriter(capacity: compactEncodedSize)
        encode(to: &writer)
        return writer.bytes
    }
}

extension CompactDecodable {
    /// Decodes a whole message. Unlike the reference's `decode`, bytes left over are an error: a message that
    /// carries junk after its end is not silently accepted.
    public init(compactEncoded bytes: [UInt8]) throws(CompactEncodingError) {
        var reader = CompactReader(bytes)
        self = try Self(from: &reader)
        try reader.expectEnd()
    }
}
