import CSodium

/// Secret key material that is wiped with `sodium_memzero` when the last reference goes away.
///
/// Immutable after initialisation: the only writes happen in `init` and `deinit`, so sharing the reference across
/// concurrency domains is safe; that is the proof behind `@unchecked Sendable`.
public final class SecureBytes: @unchecked Sendable {
    // At least one byte is always allocated so the pointer handed to libsodium (whose prototypes are `nonnull`)
    // is valid even for an empty secret.
    private let pointer: UnsafeMutablePointer<UInt8>
    private let allocated: Int

    /// Number of secret bytes.
    public let count: Int

    /// Copies `bytes` into freshly allocated memory. The caller's copy is not wiped.
    public convenience init(_ bytes: some Collection<UInt8>) {
        let copy = Array(bytes)
        self.init(count: copy.count) { out in
            for (index, byte) in copy.enumerated() { out[index] = byte }
        }
    }

    /// Allocates `count` zeroed bytes and lets `fill` write them; nothing else sees them before that.
    public init(count: Int, fill: (UnsafeMutablePointer<UInt8>) throws -> Void) rethrows {
        SodiumLibrary.ensureInitialised()
        allocated = max(count, 1)
        pointer = .allocate(capacity: allocated)
        pointer.initialize(repeating: 0, count: allocated)
        self.count = count
        do {
            try fill(pointer)
        } catch {
            sodium_memzero(pointer, allocated)
            pointer.deallocate()
            throw error
        }
    }

    deinit {
        sodium_memzero(pointer, allocated)
        pointer.deallocate()
    }

    /// Temporary read access for libsodium calls.
    public func withPointer<R>(_ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        try body(pointer)
    }

    /// Temporary read access to the secret bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// A plain copy of the bytes, for the rare caller (persistence, tests) that needs one.
    public var bytes: [UInt8] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// Constant-time comparison with other secret or public bytes.
    public func constantTimeEquals(_ other: some Collection<UInt8>) -> Bool {
        let other = Array(other)
        return withUnsafeBytes { ConstantTime.equals($0, other) }
    }
}

extension SecureBytes: CustomStringConvertible {
    /// Never prints the secret.
    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
}
