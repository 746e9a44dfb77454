/// Splits a byte stream into IRC lines: a pure, bounded state machine (feed bytes, get events), no I/O.
///
/// NIO's `LineBasedFrameDecoder` has no maximum length and `NIOSplitLinesMessageDecoder` also splits on VT/FF, so
/// IRC gets its own framer; the server's connection handler feeds it what it reads.
///
/// - **Terminators:** CR LF, bare LF and bare CR all end a line (RFC 1459 §8 asks servers to accept either alone).
///   An LF directly after a CR is part of the same terminator, even when the two arrive in different `feed` calls.
/// - **Empty lines** (`\r\n\r\n`, a lone `\n`) are dropped: RFC 1459 says empty messages are silently ignored.
/// - **Bound:** at most `maxLineLength` bytes are buffered. A line that grows past it yields one `oversizedLine`
///   event as soon as the limit is crossed; its bytes are discarded and so is everything up to the next CR or LF,
///   after which framing resumes normally. Memory per connection is therefore bounded by `maxLineLength`.
/// - **NUL** is not special here: it is passed through inside the line, and `IRCMessageParser` refuses lines that
///   contain it (`containsNUL`). Treating NUL as a terminator, as some old servers did, would let a client smuggle a
///   second command past whatever inspected the first.
public struct IRCLineFramer: Sendable {
    /// What one `feed` produced, in stream order.
    public enum Event: Hashable, Sendable {
        /// A complete, non-empty line without its terminator.
        case line([UInt8])
        /// A line longer than `maxLineLength`; it is being discarded up to the next CR or LF.
        case oversizedLine
    }

    /// The longest line, terminator excluded, that is delivered.
    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    private var discarding = false
    private var lastWasCR = false

    /// - Parameter maxLineLength: default `IRCMessageLimits.standard.maxLineBytes` (8191 + 510 bytes), the longest
    ///   line the parser could accept; shorter lines that break the parser's own limits reach it and get a numeric.
    public init(maxLineLength: Int = IRCMessageLimits.standard.maxLineBytes) {
        self.maxLineLength = max(1, maxLineLength)
    }

    /// Bytes of the current incomplete line held in memory (never more than `maxLineLength`).
    public var bufferedByteCount: Int { buffer.count }

    /// True while the remainder of an oversized line is being skipped.
    public var isDiscarding: Bool { discarding }

    /// Feeds the next bytes of the stream; returns the events they complete, in order.
    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [Event] {
        var events: [Event] = []
        let done: Void? = bytes.withContiguousStorageIfAvailable { feed(contiguous: $0, into: &events) }
        if done == nil {
            Array(bytes).withUnsafeBufferPointer { feed(contiguous: $0, into: &events) }
        }
        return events
    }

    /// Scans for terminators a run at a time so the common case copies whole lines, not single bytes.
    private mutating func feed(contiguous bytes: UnsafeBufferPointer<UInt8>, into events: inout [Event]) {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        var index = 0
        while index < bytes.count {
            if lastWasCR, bytes[index] == lf {
                // The LF of a CR LF whose CR already ended the line.
                lastWasCR = false
                index += 1
                continue
            }
            var runEnd = index
            while runEnd < bytes.count, bytes[runEnd] != cr, bytes[runEnd] != lf { runEnd += 1 }
            if runEnd > index {
                lastWasCR = false
                if !discarding {
                    let runLength = runEnd - index
                    if buffer.count + runLength > maxLineLength {
                        buffer = []
                        discarding = true
                        events.append(.oversizedLine)
                    } else {
                        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<runEnd]))
                    }
                }
            }
            guard runEnd < bytes.count else { return }
            // A terminator.
            if discarding {
                discarding = false
            } else if !buffer.isEmpty {
                events.append(.line(buffer))
                // Not `removeAll(keepingCapacity:)`: the event shares the storage, so that would allocate a copy
                // now and keep it for as long as the connection idles.
                buffer = []
            }
            lastWasCR = bytes[runEnd] == cr
            index = runEnd + 1
        }
    }

    /// Ends the stream. Returns the unterminated last line, if any (the caller decides whether to use it: a client
    /// that closes without a final newline has arguably not sent it), and resets the framer.
    public mutating func finish() -> [UInt8]? {
        defer {
            buffer = []
            discarding = false
            lastWasCR = false
        }
        return (discarding || buffer.isEmpty) ? nil : buffer
    }
}
