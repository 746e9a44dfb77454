/// Reads compact-encoded values from untrusted bytes.
///
/// Every read checks the bytes that are left first, so truncated or hostile input gives a `CompactEncodingError`,
/// never a trap, and no length is allocated before it is known to be present. Reads copy what they return, so a
/// decoded value never pins the receive buffer it came from.
public struct CompactReader {
    @usableFromInline let bytes: [UInt8]
    @usableFromInline let end: Int
    @usableFromInline var position: Int
    /// Position of the next byte to read.
    @inlinable public var offset: Int { position }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
    }

    public init(_ slice: ArraySlice<UInt8>) {
        self.init(Array(slice))
    }

    /// Bytes not yet read.
    @inlinable public var remaining: Int { end - offset }

    @inlinable public var isAtEnd: Bool { offset == end }

    @inlinable mutating func requireBytes(_ count: Int) throws(CompactEncodingError) {
        guard count >= 0, count <= end - offset else {
            throw .outOfBounds(needed: count, remaining: end - offset)
        }
    }

    @inlinable public mutating func readByte() throws(CompactEncodingError) -> UInt8 {
        try requireBytes(1)
        defer { position += 1 }
        return bytes[offset]
    }

    /// Exactly `count` bytes (`raw` of a known size, or a fixed field).
    @inlinable public mutating func readBytes(count: Int) throws(CompactEncodingError) -> [UInt8] {
        try requireBytes(count)
        defer { position += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Everything that is left (`raw` at the end of a message).
    public mutating func readRemaining() -> [UInt8] {
        defer { position = end }
        return Array(bytes[offset..<end])
    }

    /// A fixed-width field such as `fixed32`.
    @inlinable public mutating func readFixed(length: Int) throws(CompactEncodingError) -> [UInt8] {
        try readBytes(count: length)
    }

    /// A `uint` length or count, checked against the bytes left (each counted item takes at least
    /// `minimumItemSize` bytes) and against the caller's own `limit`.
    @inlinable public mutating func readLength(
        minimumItemSize: Int = 1, limit: Int = .max
    ) throws(CompactEncodingError) -> Int {
        let declared = try readUInt()
        let fitting = minimumItemSize > 0 ? remaining / minimumItemSize : Int.max
        let bound = min(limit, fitting)
        guard declared <= UInt64(bound) else { throw .lengthTooLarge(declared: declared, limit: bound) }
        return Int(declared)
    }

    /// `buffer`: uint length, then that many bytes.
    @inlinable public mutating func readBuffer(limit: Int = .max) throws(CompactEncodingError) -> [UInt8] {
        let declared = try readUInt()
        guard declared <= UInt64(remaining) else {
            throw .outOfBounds(needed: Int(clamping: declared), remaining: remaining)
        }
        guard declared <= UInt64(limit) else { throw .lengthTooLarge(declared: declared, limit: limit) }
        return try readBytes(count: Int(declared))
    }

    /// `optionalBuffer`: length 0 decodes as absent.
    @inlinable public mutating func readOptionalBuffer(limit: Int = .max) throws(CompactEncodingError) -> [UInt8]? {
        let buffer = try readBuffer(limit: limit)
        return buffer.isEmpty ? nil : buffer
    }

    /// UTF-8 `string`. Invalid UTF-8 is replaced with U+FFFD, as the reference's decoder (TextDecoder) does.
    @inlinable public mutating func readString(limit: Int = .max) throws(CompactEncodingError) -> String {
        let bytes = try readBuffer(limit: limit)
        let text = String(decoding: bytes, as: UTF8.self)
        // Invalid UTF-8 is replaced (as the reference's decoder does), and each replacement takes three bytes: a
        // string that would then encode past the limit is refused, so what decodes always encodes back within it.
        if limit != .max, text.utf8.count > limit {
            throw .lengthTooLarge(declared: UInt64(text.utf8.count), limit: limit)
        }
        return text
    }

    /// `array(codec)`: uint count, then the elements. The count is bounded by the bytes left before anything is
    /// allocated.
    @inlinable public mutating func readArray<Element>(
        minimumElementSize: Int = 1, limit: Int = .max,
        _ readElement: (inout CompactReader) throws(CompactEncodingError) -> Element
    ) throws(CompactEncodingError) -> [Element] {
        let count = try readLength(minimumItemSize: minimumElementSize, limit: limit)
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try readElement(&self)) }
        return elements
    }

    /// A nested value that knows its own decoding.
    @inlinable public mutating func read<T: CompactDecodable>(_ type: T.Type = T.self) throws(CompactEncodingError) -> T {
        try T(from: &self)
    }

    /// Fails when bytes are left over: whole-message decodes use it so junk after a message is not ignored.
    @inlinable public func expectEnd() throws(CompactEncodingError) {
        guard isAtEnd else { throw .trailingBytes(count: remaining) }
    }

    @inlinable mutating func readLittleEndian<T: FixedWidthInteger>(_: T.Type) throws(CompactEncodingError) -> T {
        let size = MemoryLayout<T>.size
        try requireBytes(size)
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        position += size
        return T(littleEndian: value)
    }
}
