import SwarmEngine
import TestVectors

/// Two UDX stream state machines joined by a simulated link on a virtual clock: each datagram is dropped,
/// duplicated, delayed and reordered by a seeded random model, and time jumps from one event (an arrival or a timer)
/// to the next, so a transfer that takes minutes of timeouts runs in milliseconds and the same seed gives the same run.
struct UDXLinkSimulation {
    struct LinkModel {
        var loss = 0.0
        var duplication = 0.0
        /// One-way delay in milliseconds.
        var delay: UInt64 = 5
        /// Extra random delay up to this many milliseconds (reorders datagrams).
        var jitter: UInt64 = 0
    }

    struct Side {
        var stream: UDXStreamState
        var toWrite: [UInt8] = []
        var written = 0
        var received: [UInt8] = []
        var messages: [[UInt8]] = []
        var remoteEnded = false
        var closed: UDXStreamState.CloseReason?
        var endsWhenWritten = true
        var reads = true
    }

    private struct InFlight {
        var arrival: UInt64
        var order: Int
        var toB: Bool
        var bytes: [UInt8]
    }

    var a: Side
    var b: Side
    var now: UInt64 = 1_000
    var model: LinkModel
    /// Set to drop everything from then on (a peer that vanished).
    var blackhole = false
    /// Called for every datagram handed to the link (after the model decided nothing yet).
    var onTransmit: ((Bool, [UInt8]) -> Void)?
    private var inFlight: [InFlight] = []
    private var order = 0
    private var random: SeededGenerator
    private(set) var datagramsSent = 0

    init(seed: UInt64, model: LinkModel, configuration: UDXStreamState.Configuration = .init()) {
        random = SeededGenerator(seed: seed)
        self.model = model
        a = Side(stream: UDXStreamState(localID: 1, remoteID: 2, configuration: configuration, now: 1_000))
        b = Side(stream: UDXStreamState(localID: 2, remoteID: 1, configuration: configuration, now: 1_000))
    }

    /// Feeds both writers and runs until `done` holds or the virtual clock passes `limit`; returns whether `done` held.
    mutating func run(forAtMost limit: UInt64 = 600_000, until done: (UDXLinkSimulation) -> Bool) -> Bool {
        let end = now + limit
        feed(toB: true)
        feed(toB: false)
        while !done(self) {
            let arrivals = inFlight.map(\.arrival).min()
            let deadlines = [a.stream.nextDeadline, b.stream.nextDeadline].compactMap { $0 }.min()
            guard let next = [arrivals, deadlines].compactMap({ $0 }).min(), next <= end else { return done(self) }
            now = max(now, next)
            let due = inFlight.filter { $0.arrival <= now }.sorted { ($0.arrival, $0.order) < ($1.arrival, $1.order) }
            inFlight.removeAll { $0.arrival <= now }
            for datagram in due {
                guard let packet = try? UDXPacket(decoding: datagram.bytes) else { continue }
                if datagram.toB {
                    perform(b.stream.receive(packet, now: now), onB: true)
                } else {
                    perform(a.stream.receive(packet, now: now), onB: false)
                }
            }
            if let deadline = a.stream.nextDeadline, deadline <= now { perform(a.stream.timeout(now: now), onB: false) }
            if let deadline = b.stream.nextDeadline, deadline <= now { perform(b.stream.timeout(now: now), onB: true) }
            feed(toB: true)
            feed(toB: false)
        }
        return true
    }

    /// Writes as much of a side's data as its send buffer takes, ends it once everything is written, and flushes.
    private mutating func feed(toB: Bool) {
        var side = toB ? a : b
        defer { if toB { a = side } else { b = side } }
        guard !side.stream.isClosed else { return }
        while side.written < side.toWrite.count, side.stream.isWritable {
            let chunk = Array(side.toWrite[side.written..<min(side.toWrite.count, side.written + 16_384)])
            do {
                try side.stream.write(chunk)
                side.written += chunk.count
            } catch {
                break
            }
        }
        if side.written == side.toWrite.count, side.endsWhenWritten { try? side.stream.end() }
        let actions = side.stream.flush(now: now)
        apply(actions, to: &side, toB: toB)
    }

    private mutating func perform(_ actions: [UDXStreamState.Action], onB: Bool) {
        var side = onB ? b : a
        apply(actions, to: &side, toB: !onB)
        if onB { b = side } else { a = side }
    }

    private mutating func apply(_ actions: [UDXStreamState.Action], to side: inout Side, toB: Bool) {
        for action in actions {
            switch action {
            case .transmit(let bytes):
                datagramsSent += 1
                let datagram = Array(bytes.readableBytesView)
                onTransmit?(toB, datagram)
                send(datagram, toB: toB)
            case .deliver(let bytes):
                side.received += bytes.readableBytesView
                if side.reads { apply(side.stream.read(bytes.readableBytes), to: &side, toB: toB) }
            case .message(let bytes):
                side.messages.append(bytes)
            case .remoteEnded:
                side.remoteEnded = true
            case .writable, .remoteChanged:
                break
            case .closed(let reason):
                side.closed = reason
            }
        }
    }

    private mutating func send(_ bytes: [UInt8], toB: Bool) {
        guard !blackhole else { return }
        if Double.random(in: 0..<1, using: &random) < model.loss { return }
        let copies = Double.random(in: 0..<1, using: &random) < model.duplication ? 2 : 1
        for _ in 0..<copies {
            let jitter = model.jitter > 0 ? UInt64.random(in: 0...model.jitter, using: &random) : 0
            order += 1
            inFlight.append(InFlight(arrival: now + model.delay + jitter, order: order, toB: toB, bytes: bytes))
        }
    }
}
