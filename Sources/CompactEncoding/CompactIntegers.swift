// Integer codecs of compact-encoding. Everything is little-endian; `uint` is the reference's variable-length form.

extension CompactWriter {
    /// `uint`: ≤ 0xfc in one byte, else a marker byte (0xfd/0xfe/0xff) then a uint16/32/64. Always the smallest
    /// form, so encodings are canonical (hashed and signed bytes depend on that).
    @inlinable public mutating func writeUInt(_ value: UInt64) {
        if value <= 0xfc {
            writeByte(UInt8(value))
        } else if value <= 0xffff {
            writeByte(0xfd)
            writeUInt16(UInt16(value))
        } else if value <= 0xffff_ffff {
            writeByte(0xfe)
            writeUInt32(UInt32(value))
        } else {
            writeByte(0xff)
            writeUInt64(value)
        }
    }

    /// `int`: zig-zag mapped onto `uint` (0, -1, 1, -2, … ⇒ 0, 1, 2, 3, …).
    @inlinable public mutating func writeInt(_ value: Int64) {
        writeUInt(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable public mutating func writeUInt8(_ value: UInt8) { writeByte(value) }

    @inlinable public mutating func writeUInt16(_ value: UInt16) { writeLittleEndian(value) }

    /// `uint24`: the low three bytes, little-endian. Values above 0xffffff are a programmer error.
    @inlinable public mutating func writeUInt24(_ value: UInt32) {
        precondition(value <= 0xff_ffff, "uint24 out of range: \(value)")
        writeByte(UInt8(truncatingIfNeeded: value))
        writeByte(UInt8(truncatingIfNeeded: value >> 8))
        writeByte(UInt8(truncatingIfNeeded: value >> 16))
    }

    @inlinable public mutating func writeUInt32(_ value: UInt32) { writeLittleEndian(value) }

    @inlinable public mutating func writeUInt64(_ value: UInt64) { writeLittleEndian(value) }

    /// `float64`: IEEE 754 double, little-endian.
    @inlinable public mutating func writeFloat64(_ value: Double) { writeLittleEndian(value.bitPattern) }

    /// `bool`: one byte, 0 or 1.
    @inlinable public mutating func writeBool(_ value: Bool) { writeByte(value ? 1 : 0) }

    @inlinable mutating func writeLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { writeBytes($0) }
    }
}

extension CompactReader {
    /// `uint`. Non-minimal forms (e.g. 0xfd 0x01 0x00) are accepted, as the reference accepts them.
    @inlinable public mutating func readUInt() throws(CompactEncodingError) -> UInt64 {
        let first = try readByte()
        switch first {
        case 0xfd: return UInt64(try readUInt16())
        case 0xfe: return UInt64(try readUInt32())
        case 0xff: return try readUInt64()
        default: return UInt64(first)
        }
    }

    /// `uint` that must fit an `Int` (counts, lengths, indices).
    @inlinable public mutating func readUIntAsInt() throws(CompactEncodingError) -> Int {
        let value = try readUInt()
        guard value <= UInt64(Int.max) else { throw .valueOutOfRange("uint \(value) does not fit Int") }
        return Int(value)
    }

    /// `int` (zig-zag).
    @inlinable public mutating func readInt() throws(CompactEncodingError) -> Int64 {
        let raw = try readUInt()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @inlinable public mutating func readUInt8() throws(CompactEncodingError) -> UInt8 { try readByte() }

    @inlinable public mutating func readUInt16() throws(CompactEncodingError) -> UInt16 {
        try readLittleEndian(UInt16.self)
    }

    @inlinable public mutating func readUInt24() throws(CompactEncodingError) -> UInt32 {
        let bytes = try readBytes(count: 3)
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16
    }

    @inlinable public mutating func readUInt32() throws(CompactEncodingError) -> UInt32 {
        try readLittleEndian(UInt32.self)
    }

    @inlinable public mutating func readUInt64() throws(CompactEncodingError) -> UInt64 {
        try readLittleEndian(UInt64.self)
    }

    @inlinable public mutating func readFloat64() throws(CompactEncodingError) -> Double {
        Double(bitPattern: try readLittleEndian(UInt64.self))
    }

    /// `bool`: only 0 and 1 are valid.
    @inlinable public mutating func readBool() throws(CompactEncodingError) -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue("bool byte \(other)")
        }
    }
}
