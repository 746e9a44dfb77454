import CSodium

// libsodium's prototypes are `nonnull`, but Swift hands out nil base addresses for empty buffers. libsodium never
// reads through a pointer whose length is 0, so one shared, never-written byte stands in for "empty".
// `nonisolated(unsafe)` is sound: the byte is allocated once and never written after initialisation.
nonisolated(unsafe) private let emptyBuffer: UnsafeMutablePointer<UInt8> = {
    let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return pointer
}()

extension UnsafeRawBufferPointer {
    /// A non-null `UInt8` pointer for libsodium, valid even when the buffer is empty.
    var sodiumPointer: UnsafePointer<UInt8> {
        baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyBuffer)
    }

    /// A non-null raw pointer for libsodium, valid even when the buffer is empty.
    var sodiumRawPointer: UnsafeRawPointer {
        baseAddress ?? UnsafeRawPointer(emptyBuffer)
    }
}
