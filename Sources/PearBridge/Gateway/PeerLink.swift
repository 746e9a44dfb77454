import HyperLog
import Synchronization
import SwarmEngine

/// One connection as the shell holds it: the mux and its replication drivers. The drivers are shared with the
/// connection's reader task (which hands them replication messages), hence the lock.
final class PeerLink: Sendable {
    let mux: any PeerMux
    private let drivers = Mutex<[[UInt8]: ReplicationDriver]>([:])
    private let misbehaved = Atomic(false)

    init(mux: any PeerMux) { self.mux = mux }

    func driver(_ discoveryKey: [UInt8]) -> ReplicationDriver? { drivers.withLock { $0[discoveryKey] } }

    func register(_ driver: ReplicationDriver, for discoveryKey: [UInt8]) { drivers.withLock { $0[discoveryKey] = driver } }

    func unregister(_ discoveryKey: [UInt8]) -> ReplicationDriver? { drivers.withLock { $0.removeValue(forKey: discoveryKey) } }

    /// Marks the peer as dropped for misbehaviour; true the first time only.
    func markMisbehaved() -> Bool {
        !misbehaved.exchange(true, ordering: .relaxed)
    }

    var allDrivers: [ReplicationDriver] { drivers.withLock { Array($0.values) } }
}
