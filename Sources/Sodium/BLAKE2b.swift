import CSodium

/// BLAKE2b (`crypto_generichash`): the hash under every Hypercore tree node, discovery key and Noise step.
public enum BLAKE2b {
    public static let minimumOutputLength = 16
    public static let maximumOutputLength = 64
    public static let minimumKeyLength = 16
    public static let maximumKeyLength = 64

    /// BLAKE2b of `input` with any output length from 16 to 64 bytes, optionally keyed (key 16–64 bytes).
    public static func hash(
        _ input: some Collection<UInt8>, outputLength: Int = 32, key: [UInt8]? = nil
    ) throws(SodiumError) -> [UInt8] {
        var hasher = try Hasher(outputLength: outputLength, key: key)
        hasher.update(input)
        return hasher.finalize()
    }

    /// Unkeyed 32-byte BLAKE2b, the common case; cannot fail.
    public static func hash256(_ input: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(input)
        return bytes.withUnsafeBytes { hash256($0) }
    }

    /// Unkeyed 32-byte BLAKE2b over raw memory; cannot fail.
    public static func hash256(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        SodiumLibrary.ensureInitialised()
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(
            &out, 32, input.sodiumPointer, UInt64(input.count), nil, 0)
        return out
    }

    /// Unkeyed 32-byte BLAKE2b of several inputs as if concatenated, without concatenating them.
    public static func hash256(parts: [[UInt8]]) -> [UInt8] {
        var hasher = Hasher.unkeyed256()
        for part in parts { hasher.update(part) }
        return hasher.finalize()
    }

    /// Incremental BLAKE2b. Move-only: `finalize()` consumes it, so a finished state can never be fed again.
    public struct Hasher: ~Copyable {
        // libsodium declares the state 64-byte aligned; Swift cannot promise that for an imported struct
        // stored inline, so the state lives in memory we allocate with that alignment.
        private let state: UnsafeMutableRawPointer
        private let outputLength: Int

        public init(outputLength: Int = 32, key: [UInt8]? = nil) throws(SodiumError) {
            guard (minimumOutputLength...maximumOutputLength).contains(outputLength) else {
                throw .invalidParameter("BLAKE2b output length must be 16...64, got \(outputLength)")
            }
            if let key, !(minimumKeyLength...maximumKeyLength).contains(key.count) {
                throw .invalidParameter("BLAKE2b key length must be 16...64, got \(key.count)")
            }
            self.init(validatedOutputLength: outputLength, key: key)
        }

        /// A 32-byte unkeyed hasher; cannot fail.
        public static func unkeyed256() -> Hasher {
            Hasher(validatedOutputLength: 32, key: nil)
        }

        private init(validatedOutputLength outputLength: Int, key: [UInt8]?) {
            SodiumLibrary.ensureInitialised()
            self.outputLength = outputLength
            state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
            let typed = OpaquePointer(state)
            if let key {
                _ = crypto_generichash_init(typed, key, key.count, outputLength)
            } else {
                _ = crypto_generichash_init(typed, nil, 0, outputLength)
            }
        }

        public mutating func update(_ bytes: some Collection<UInt8>) {
            if let done = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) {
                return done
            }
            Array(bytes).withUnsafeBytes { update($0) }
        }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            _ = crypto_generichash_update(
                OpaquePointer(state),
                bytes.sodiumPointer, UInt64(bytes.count))
        }

        public mutating func update(byte: UInt8) {
            withUnsafeBytes(of: byte) { update($0) }
        }

        /// The digest; the hasher is consumed.
        public consuming func finalize() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: outputLength)
            _ = crypto_generichash_final(
                OpaquePointer(state), &out, outputLength)
            sodium_memzero(state, crypto_generichash_statebytes())
            state.deallocate()
            discard self
            return out
        }

        deinit {
            sodium_memzero(state, crypto_generichash_statebytes())
            state.deallocate()
        }
    }
}
