import CoreMetrics

/// What the networking layer counts for operators (shown at `/metrics` when the daemon bootstraps a metrics backend
/// before it makes any connection; nothing is recorded otherwise).
enum SwarmMetrics {
    /// Peer connections whose Noise handshake failed (a stranger's doing, or a wrong key).
    static let handshakeFailures = Counter(label: "pearirc_peer_handshake_failures_total")
    /// Encrypted datagrams dropped on the way in: forged, corrupted, another connection's, or pushed out of a full
    /// queue.
    static let droppedDatagrams = Counter(label: "pearirc_dropped_datagrams_total")
}
