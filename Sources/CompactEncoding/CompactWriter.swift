/// A sink for compact-encoded bytes.
///
/// A message type describes its encoding once, in `encode(to:)`, against this protocol. Run against a
/// `CompactSizer` the same code computes the exact encoded size (the reference's `preencode`); run against a
/// `CompactByteWriter` sized from that, it writes the bytes with one allocation for the whole message.
public protocol CompactWriter {
    mutating func writeByte(_ byte: UInt8)
    mutating func writeBytes(_ bytes: UnsafeRawBufferPointer)
}

/// Counts the bytes an encoding will take without writing them (the reference's `preencode` pass).
public struct CompactSizer: CompactWriter {
    @usableFromInline var byteCount = 0
    @inlinable public var count: Int { byteCount }

    public init() {}

    @inlinable public mutating func writeByte(_ byte: UInt8) { byteCount += 1 }
    @inlinable public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) { byteCount += bytes.count }
}

/// Appends encoded bytes to an array reserved up front.
public struct CompactByteWriter: CompactWriter {
    @usableFromInline var storage: [UInt8]
    @inlinable public var bytes: [UInt8] { storage }

    public init(capacity: Int = 0) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    @inlinable public mutating func writeByte(_ byte: UInt8) { storage.append(byte) }
    @inlinable public mutating func writeBytes(_ raw: UnsafeRawBufferPointer) { storage.append(contentsOf: raw) }
}

extension CompactWriter {
    /// Bytes with no length prefix (`raw`).
    @inlinable public mutating func writeRaw(_ bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ writeBytes(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { writeBytes($0) }
        }
    }

    /// A fixed-width field (`fixed32`, `fixed64`, …): exactly `length` bytes, no prefix. The caller guarantees
    /// the length; every fixed field in our wire types is validated when the value is built or decoded.
    @inlinable public mutating func writeFixed(_ bytes: some Collection<UInt8>, length: Int) {
        precondition(bytes.count == length, "fixed\(length) field given \(bytes.count) bytes")
        writeRaw(bytes)
    }

    /// Length-prefixed bytes (`buffer`): uint length, then the bytes.
    @inlinable public mutating func writeBuffer(_ bytes: some Collection<UInt8>) {
        writeUInt(UInt64(bytes.count))
        writeRaw(bytes)
    }

    /// `optionalBuffer`: an absent buffer encodes as length 0 (so absent and empty are the same on the wire).
    @inlinable public mutating func writeOptionalBuffer(_ bytes: [UInt8]?) {
        writeBuffer(bytes ?? [])
    }

    /// UTF-8 string with a uint prefix giving its byte length.
    @inlinable public mutating func writeString(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            writeUInt(UInt64(utf8.count))
            writeBytes(UnsafeRawBufferPointer(utf8))
        }
    }

    /// `array(codec)`: uint count, then each element.
    @inlinable public mutating func writeArray<Element>(
        _ elements: some Collection<Element>, _ writeElement: (inout Self, Element) -> Void
    ) {
        writeUInt(UInt64(elements.count))
        for element in elements { writeElement(&self, element) }
    }

    /// A nested value that knows its own encoding.
    @inlinable public mutating func write(_ value: some CompactEncodable) {
        value.encode(to: &self)
    }
}
