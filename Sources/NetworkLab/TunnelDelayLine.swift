import Glibc
import Synchronization

/// A link with a fixed one-way delay for every IPv4 packet, TCP and UDP alike, between two addresses of one network
/// namespace: what netem's `delay` would do, which the kernel here does not have. (A UDP relay can delay only UDP,
/// and a user-space TCP proxy would split the TCP connection in two and hide the delay from its congestion control.)
///
/// How: a TUN device in the namespace carries the route to `10.201.0.0/16`. The ends bind `10.200.0.N` (on the
/// namespace's loopback) and reach one another at `10.201.0.N`. A packet from `10.200.0.1` to `10.201.0.2` leaves
/// through the TUN device; the line holds it for `delay`, rewrites it to come from `10.201.0.1` to `10.200.0.2` and
/// writes it back, so the kernel receives it from the "link" and delivers it to the other end, which answers
/// `10.201.0.1` the same way. Swapping the second octet of both addresses leaves the sum of the header's 16-bit
/// words unchanged, so the IP, TCP and UDP checksums stay valid without being recomputed.
///
/// The queue is bounded (`maximumQueuedBytes`, like a router's buffer); packets beyond it are dropped and counted.
/// One thread of its own moves the packets (blocking `poll`, not an event loop: its timing must not depend on the
/// load of the loops under test).
public final class TunnelDelayLine: Sendable {
    /// The address an end binds (`index` 1 or 2).
    public static func endAddress(_ index: Int) -> String { "10.200.0.\(index)" }
    /// The address at which the other end reaches end `index` through the line.
    public static func addressThroughLine(_ index: Int) -> String { "10.201.0.\(index)" }

    public static let deviceName = "pdelay0"
    public static let maximumQueuedBytes = 16 << 20

    public let delay: Duration
    private let descriptor: Int32
    private let running = Atomic<Bool>(true)
    private let finished = Mutex<Bool>(false)
    private let forwardedCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)

    /// Packets delivered after the delay.
    public var forwarded: Int { forwardedCount.load(ordering: .relaxed) }
    /// Packets dropped because the queue was full or they were not IPv4 between the two prefixes.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }

    /// Starts moving packets of the TUN device open at `descriptor` (see `openDevice`), which the line now owns.
    init(descriptor: Int32, delay: Duration) {
        self.descriptor = descriptor
        self.delay = delay
        let line = self
        var thread = pthread_t()
        let box = Unmanaged.passRetained(ThreadBody { line.run() })
        pthread_create(&thread, nil, { pointer in
            let body = Unmanaged<ThreadBody>.fromOpaque(pointer!).takeRetainedValue()
            body.run()
            return nil
        }, box.toOpaque())
        pthread_detach(thread)
    }

    /// Stops the thread (within its 50 ms poll) and closes the device, which removes it from the namespace.
    public func stop() async {
        running.store(false, ordering: .relaxed)
        while !finished.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// Creates the TUN device (no packet-information prefix) in the network namespace of the calling thread and
    /// returns its non-blocking descriptor.
    static func openDevice() throws -> Int32 {
        let descriptor = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw NetworkNamespace.Failure.enter("/dev/net/tun", errno) }
        // struct ifreq: the name (16 bytes), then the flags as a short; 40 bytes in all on 64-bit Linux.
        var request = [UInt8](repeating: 0, count: 40)
        for (index, byte) in deviceName.utf8.enumerated() { request[index] = byte }
        let flags: UInt16 = 0x0001 | 0x1000  // IFF_TUN | IFF_NO_PI
        request[16] = UInt8(flags & 0xff)
        request[17] = UInt8(flags >> 8)
        let tunSetInterface: UInt = 0x4004_54ca  // TUNSETIFF = _IOW('T', 202, int)
        let status = request.withUnsafeMutableBytes { ioctl(descriptor, tunSetInterface, $0.baseAddress!) }
        guard status == 0 else {
            let code = errno
            close(descriptor)
            throw NetworkNamespace.Failure.enter("TUNSETIFF", code)
        }
        return descriptor
    }

    /// Rewrites a packet from `10.200.a.b` to `10.201.c.d` into one from `10.201.a.b` to `10.200.c.d`; false (drop)
    /// for anything else. The checksums stay valid: one address word gains exactly what the other loses.
    static func rewrite(_ packet: inout [UInt8]) -> Bool {
        guard packet.count >= 20, packet[0] >> 4 == 4,
            packet[12] == 10, packet[13] == 200, packet[16] == 10, packet[17] == 201
        else { return false }
        packet[13] = 201
        packet[17] = 200
        return true
    }

    private func run() {
        defer {
            close(descriptor)
            finished.withLock { $0 = true }
        }
        let delayNanoseconds = UInt64(delay.components.seconds) * 1_000_000_000
            + UInt64(delay.components.attoseconds / 1_000_000_000)
        var queue: [(due: UInt64, packet: [UInt8])] = []
        var head = 0
        var queuedBytes = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while running.load(ordering: .relaxed) {
            let now = Self.monotonicNanoseconds()
            var timeout: Int32 = 50
            if head < queue.count {
                let due = queue[head].due
                timeout = due <= now ? 0 : Int32(min(50, (due - now + 999_999) / 1_000_000))
            }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, timeout)
            // Read what arrived (bounded per round, so due packets are never held up by a burst).
            for _ in 0..<512 {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
                guard count > 0 else { break }
                var packet = Array(buffer[0..<count])
                guard queuedBytes + count <= Self.maximumQueuedBytes, Self.rewrite(&packet) else {
                    droppedCount.add(1, ordering: .relaxed)
                    continue
                }
                queue.append((Self.monotonicNanoseconds() + delayNanoseconds, packet))
                queuedBytes += count
            }
            let later = Self.monotonicNanoseconds()
            while head < queue.count, queue[head].due <= later {
                let packet = queue[head].packet
                _ = packet.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
                queuedBytes -= packet.count
                head += 1
                forwardedCount.add(1, ordering: .relaxed)
            }
            if head > 4096, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
