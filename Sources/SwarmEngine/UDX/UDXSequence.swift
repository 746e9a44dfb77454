/// UDX sequence numbers count packets and wrap at 2³²; libudx compares them as the signed 32-bit difference
/// (`seq_diff`, `seq_compare` in src/internal.h), so "after" means "less than 2³¹ ahead".
enum UDXSequence {
    /// `a - b` as libudx's `seq_diff`: positive when `a` comes after `b`.
    @inline(__always)
    static func difference(_ a: UInt32, _ b: UInt32) -> Int32 {
        Int32(bitPattern: a &- b)
    }

    @inline(__always)
    static func isBefore(_ a: UInt32, _ b: UInt32) -> Bool { difference(a, b) < 0 }

    @inline(__always)
    static func isAfter(_ a: UInt32, _ b: UInt32) -> Bool { difference(a, b) > 0 }
}
