import CSodium

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// `true` when both inputs have the same length and the same bytes. The length check itself is not secret.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let a = Array(a), b = Array(b)
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        SodiumLibrary.ensureInitialised()
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.sodiumRawPointer, pb.sodiumRawPointer, a.count) == 0 }
        }
    }

    static func equals(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return b.withUnsafeBytes { pb in sodium_memcmp(a.sodiumRawPointer, pb.sodiumRawPointer, a.count) == 0 }
    }

    /// Overwrites `bytes` with zeros in a way the optimiser cannot remove.
    public static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { sodium_memzero(base, raw.count) }
        }
    }
}
