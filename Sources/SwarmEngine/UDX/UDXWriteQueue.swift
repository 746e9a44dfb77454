import DequeModule
import NIOCore

/// Bytes written to a UDX stream and not yet put in a packet, cut into packets as libudx's `send_new_packet` cuts
/// its write queue: each packet takes up to one payload's worth, across write boundaries. A payload that lies within
/// one write is a slice of it, not a copy (a 64 KiB write becomes 57 slices); only one that straddles two writes is
/// copied together.
struct UDXWriteQueue: Sendable {
    private var chunks: Deque<ByteBuffer> = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ buffer: ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        chunks.append(buffer)
        count += buffer.readableBytes
    }

    /// Takes up to `limit` bytes from the front.
    mutating func take(upTo limit: Int) -> ByteBuffer {
        guard let first = chunks.first else { return ByteBuffer() }
        if first.readableBytes >= limit {
            count -= limit
            let slice = chunks[chunks.startIndex].readSlice(length: limit)!
            if chunks[chunks.startIndex].readableBytes == 0 { chunks.removeFirst() }
            return slice
        }
        var taken = ByteBuffer()
        taken.reserveCapacity(min(limit, count))
        while taken.readableBytes < limit, !chunks.isEmpty {
            let length = min(chunks[chunks.startIndex].readableBytes, limit - taken.readableBytes)
            var piece = chunks[chunks.startIndex].readSlice(length: length)!
            taken.writeBuffer(&piece)
            if chunks[chunks.startIndex].readableBytes == 0 { chunks.removeFirst() }
        }
        count -= taken.readableBytes
        return taken
    }

    mutating func removeAll() {
        chunks.removeAll()
        count = 0
    }
}
