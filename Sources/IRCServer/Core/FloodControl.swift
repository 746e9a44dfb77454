import Foundation

/// Flood control: a token bucket per connection, `floodBurst` lines deep, refilled at `floodRate` lines a second.
///
/// Like Ergo's and InspIRCd's "fakelag", a line that finds the bucket empty is not refused but held, in order, and
/// run on a later `tick` once tokens are back; only a client that keeps more than `floodQueueLength` lines waiting is
/// disconnected with "Excess Flood". Loopback clients are exempt when `floodExemptLoopback` is set (one user, one
/// local gateway is PearIRC's usual set-up).
struct FloodBucket: Sendable {
    var tokens: Double
    var updated: Date
    var queue: [IRCMessage] = []

    mutating func refill(now: Date, burst: Int, rate: Double) {
        let elapsed = max(0, now.timeIntervalSince(updated))
        tokens = min(Double(burst), tokens + elapsed * rate)
        updated = now
    }
}

extension IRCServerState {
    /// A bucket for a new connection, or nil when it is exempt.
    func floodBucket(host: String, now: Date) -> FloodBucket? {
        guard configuration.floodBurst > 0, configuration.floodRate > 0 else { return nil }
        if configuration.floodExemptLoopback, LoopbackAddress.contains(host) { return nil }
        return FloodBucket(tokens: Double(configuration.floodBurst), updated: now)
    }

    /// Takes a token for `message`, or queues it. Returns whether it may run now.
    mutating func admit(_ message: IRCMessage, from id: ClientID, now: Date) -> Bool {
        guard var bucket = clients[id]?.flood else { return true }
        bucket.refill(now: now, burst: configuration.floodBurst, rate: configuration.floodRate)
        if bucket.queue.isEmpty, bucket.tokens >= 1 {
            bucket.tokens -= 1
            clients[id]?.flood = bucket
            return true
        }
        guard bucket.queue.count < configuration.floodQueueLength else {
            let host = clients[id]?.host ?? "*"
            error(id, "Closing Link: \(host) (Excess Flood)")
            quit(id, reason: "Excess Flood", now: now, notifySelf: false)
            return false
        }
        bucket.queue.append(message)
        clients[id]?.flood = bucket
        return false
    }

    /// Runs the held lines the refilled bucket allows.
    mutating func releaseQueuedLines(now: Date) {
        let waiting = clients.values.filter { $0.flood?.queue.isEmpty == false }.map(\.id).sorted()
        for id in waiting {
            guard var bucket = clients[id]?.flood else { continue }
            bucket.refill(now: now, burst: configuration.floodBurst, rate: configuration.floodRate)
            var ready: [IRCMessage] = []
            while bucket.tokens >= 1, !bucket.queue.isEmpty {
                bucket.tokens -= 1
                ready.append(bucket.queue.removeFirst())
            }
            clients[id]?.flood = bucket
            for message in ready where clients[id] != nil {
                run(message, from: id, now: now)
            }
        }
    }
}
