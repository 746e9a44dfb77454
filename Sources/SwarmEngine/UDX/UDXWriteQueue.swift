import DequeModule

/// Bytes written to a UDX stream and not yet put in a packet, cut into packets as libudx's `send_new_packet` cuts
/// its write queue: each packet takes up to one payload's worth, across write boundaries.
struct UDXWriteQueue: Sendable {
    private var chunks: Deque<[UInt8]> = []
    /// How much of the first chunk already went into packets.
    private var consumedOfFirst = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        chunks.append(bytes)
        count += bytes.count
    }

    /// Takes up to `limit` bytes from the front.
    mutating func take(upTo limit: Int) -> [UInt8] {
        var taken: [UInt8] = []
        taken.reserveCapacity(min(limit, count))
        while taken.count < limit, let first = chunks.first {
            let available = first.count - consumedOfFirst
            let length = min(available, limit - taken.count)
            taken.append(contentsOf: first[consumedOfFirst..<consumedOfFirst + length])
            consumedOfFirst += length
            if consumedOfFirst == first.count {
                chunks.removeFirst()
                consumedOfFirst = 0
            }
        }
        count -= taken.count
        return taken
    }

    mutating func removeAll() {
        chunks.removeAll()
        consumedOfFirst = 0
        count = 0
    }
}
