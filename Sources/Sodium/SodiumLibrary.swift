import CSodium

/// One-time libsodium initialisation.
///
/// `sodium_init()` must run before any other libsodium call; it is idempotent and thread-safe, but we still run it
/// once through a lazily initialised global so every wrapper entry point can cheaply assert it happened.
enum SodiumLibrary {
    private static let initialised: Bool = {
        // 0 = initialised now, 1 = already initialised, -1 = failure (no usable entropy source).
        sodium_init() >= 0
    }()

    /// Makes sure libsodium is initialised. Traps only if the platform has no entropy source at all, in which
    /// case no key could ever be generated safely.
    @inline(__always)
    static func ensureInitialised() {
        precondition(initialised, "libsodium could not be initialised (no entropy source)")
    }
}
