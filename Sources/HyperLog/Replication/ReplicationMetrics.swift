import CoreMetrics
import Synchronization

/// Replication lag for operators (shown at `/metrics` when the daemon bootstraps a metrics backend; nothing is
/// recorded otherwise): the blocks that peers hold and this store does not have yet, over every replication channel
/// open now. It falls to zero when replication has caught up.
enum ReplicationMetrics {
    private static let total = Atomic<Int>(0)
    private static let blocksBehind = Gauge(label: "pearirc_replication_blocks_behind")

    /// One driver's lag changed by `delta` blocks.
    static func add(_ delta: Int) {
        guard delta != 0 else { return }
        let now = total.add(delta, ordering: .relaxed).newValue
        blocksBehind.record(max(0, now))
    }
}
