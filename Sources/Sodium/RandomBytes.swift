import CSodium

/// Cryptographically secure random bytes from libsodium (`randombytes_buf`).
public enum RandomBytes {
    /// `count` random bytes.
    public static func generate(count: Int) -> [UInt8] {
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { randombytes_buf(base, raw.count) }
        }
        return out
    }

    /// A uniformly distributed value in `0..<upperBound` (`randombytes_uniform`).
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        SodiumLibrary.ensureInitialised()
        return randombytes_uniform(upperBound)
    }
}
