import Foundation

/// Who gets in when a connection arrives. Unregistered connections are cheap to open and hold a slot for the whole
/// registration timeout, so a full pool must not lock everyone else out: the oldest unregistered connection makes
/// room for the new one. Non-loopback addresses also have a cap of their own, so one host cannot take every slot.
extension IRCServerState {
    /// What to do with a connection from `host` that is about to be accepted.
    public enum Admission: Equatable, Sendable {
        /// Accept it; `evicted` unregistered connections were closed to make room (their ERROR and close are among
        /// the actions returned with this).
        case admit(evicted: Int)
        /// Refuse it with this reason (sent as `ERROR :Closing Link: host (reason)`).
        case refuse(String)
    }

    public mutating func admission(forHost host: String, now: Date) -> (Admission, [IRCServerAction]) {
        let local = clients.values.filter { !$0.isRemote }
        if !LoopbackAddress.contains(host), local.count(where: { $0.host == host }) >= configuration.maximumConnectionsPerAddress {
            return (.refuse("Too many connections from your address"), [])
        }
        var unregistered = local.filter { !$0.isRegistered }.sorted { ($0.connectedAt, $0.id) < ($1.connectedAt, $1.id) }
        var count = local.count
        var evicted = 0
        while count >= configuration.maximumConnections || unregistered.count >= configuration.maximumUnregisteredConnections {
            guard !unregistered.isEmpty else { return (.refuse("Too many connections"), drain()) }
            let oldest = unregistered.removeFirst()
            error(oldest.id, "Closing Link: \(oldest.host) (Registration took too long: the server needed the slot)")
            quit(oldest.id, reason: "Registration pool full", now: now, notifySelf: false)
            count -= 1
            evicted += 1
        }
        return (.admit(evicted: evicted), drain())
    }
}
