import CompactEncoding
import DequeModule

/// dht-rpc's outgoing requests (`lib/io.js`, the `IO` and `Request` classes): transaction ids counting up from a
/// random start and wrapping at 2¹⁶, each request sent up to four times (three retries) a second apart before it
/// times out, and the congestion window: at most 80 sends in one 750 ms slot and 160 across the last four, the rest
/// waiting in order for the next drain. Responses are matched by tid alone, as the reference matches them.
///
/// A pure value: time is the caller's (milliseconds), and what to send comes out as actions.
public struct DHTRequestTable: Sendable {
    public struct Configuration: Sendable {
        public var retries = 3
        /// Milliseconds until a send counts as lost.
        public var timeout: UInt64 = 1000
        /// Sends per drain slot (`MAX_WINDOW`); twice this across the four slots.
        public var maximumWindow = 80
        public init() {}
    }

    /// Which socket a request leaves from: one of the node's two (dht-rpc sends from the client socket while it
    /// believes itself firewalled, else from the server socket), or a hole-punching socket of its pool (hyperdht
    /// sends a connection's holepunch rounds and NAT samples from the socket that will punch), by number.
    public enum Socket: Sendable, Equatable, Hashable { case client, server, punching(Int) }

    public enum Action: Sendable, Equatable {
        /// Send these bytes to `to` from `socket`.
        case transmit([UInt8], to: IPv4Endpoint, from: Socket)
        /// The request got no answer after all its sends.
        case timedOut(UInt16, DHTRequest)
        /// A send of the request got no answer in time and it goes again (the reference's `oncycle`).
        case retrying(UInt16)
    }

    public struct Outstanding: Sendable, Equatable {
        public let request: DHTRequest
        public let socket: Socket
        public let destination: IPv4Endpoint
        public internal(set) var sent = 0
        /// When the current send counts as lost (nil while it waits for the congestion window).
        var deadline: UInt64?
    }

    public let configuration: Configuration
    private var nextTID: UInt16
    private var inflight: [UInt16: Outstanding] = [:]
    private var pending: Deque<UInt16> = []
    private var window = [0, 0, 0, 0]
    private var slot = 0
    private var windowTotal = 0

    public init(configuration: Configuration = Configuration(), firstTID: UInt16 = .random(in: 0...UInt16.max)) {
        self.configuration = configuration
        nextTID = firstTID
    }

    public var inflightCount: Int { inflight.count }
    public var pendingCount: Int { pending.count }
    public func outstanding(_ tid: UInt16) -> Outstanding? { inflight[tid] }

    /// Starts a request: it gets the next tid and goes out now, or waits for the window. Returns the tid.
    public mutating func send(
        _ template: DHTRequest, to destination: IPv4Endpoint, from socket: Socket, now: UInt64, into actions: inout [Action]
    ) -> UInt16 {
        var tid = nextTID
        // A tid still in flight (65,536 requests later) is skipped rather than shadowed.
        while inflight[tid] != nil { tid &+= 1 }
        nextTID = tid &+ 1
        var request = template
        request.tid = tid
        request.to = destination
        inflight[tid] = Outstanding(request: request, socket: socket, destination: destination)
        transmitOrQueue(tid, now: now, into: &actions)
        return tid
    }

    /// The request a response answers (matched by tid), now settled; nil for a tid we are not waiting on.
    public mutating func settle(_ response: DHTResponse) -> Outstanding? {
        guard let outstanding = inflight.removeValue(forKey: response.tid) else { return nil }
        received()
        pending.removeAll { $0 == response.tid }
        return outstanding
    }

    /// Abandons a request (its caller lost interest).
    public mutating func cancel(_ tid: UInt16) {
        guard inflight.removeValue(forKey: tid) != nil else { return }
        received()
        pending.removeAll { $0 == tid }
    }

    /// Sends whose time ran out: each is sent again while retries last, else reported timed out.
    public mutating func timeout(now: UInt64, into actions: inout [Action]) {
        let due = inflight.filter { $0.value.deadline.map { $0 <= now } ?? false }.keys.sorted()
        for tid in due {
            guard let outstanding = inflight[tid] else { continue }
            if outstanding.sent > configuration.retries {
                inflight[tid] = nil
                received()
                actions.append(.timedOut(tid, outstanding.request))
            } else {
                inflight[tid]?.deadline = nil
                actions.append(.retrying(tid))
                transmitOrQueue(tid, now: now, into: &actions)
            }
        }
    }

    /// The 750 ms drain tick: the window's oldest slot is forgotten and waiting requests go out while it has room.
    public mutating func drain(now: UInt64, into actions: inout [Action]) {
        slot = (slot + 1) & 3
        windowTotal -= window[slot]
        window[slot] = 0
        while !windowIsFull, let tid = pending.popFirst() {
            guard inflight[tid] != nil else { continue }
            transmit(tid, now: now, into: &actions)
        }
    }

    /// When `timeout` should next run.
    public var nextDeadline: UInt64? { inflight.values.compactMap(\.deadline).min() }

    var windowIsFull: Bool {
        windowTotal >= 2 * configuration.maximumWindow || window[slot] >= configuration.maximumWindow
    }

    private mutating func transmitOrQueue(_ tid: UInt16, now: UInt64, into actions: inout [Action]) {
        if windowIsFull {
            pending.append(tid)
        } else {
            transmit(tid, now: now, into: &actions)
        }
    }

    private mutating func transmit(_ tid: UInt16, now: UInt64, into actions: inout [Action]) {
        guard var outstanding = inflight[tid] else { return }
        outstanding.sent += 1
        outstanding.deadline = now + configuration.timeout
        inflight[tid] = outstanding
        windowTotal += 1
        window[slot] += 1
        actions.append(
            .transmit(DHTMessage.request(outstanding.request).encoded(), to: outstanding.destination, from: outstanding.socket))
    }

    /// A request left flight (answered, timed out or cancelled): the window gives back one send of this slot, as
    /// the reference's `congestion.recv()`.
    private mutating func received() {
        if window[slot] > 0 {
            window[slot] -= 1
            windowTotal -= 1
        }
    }
}
