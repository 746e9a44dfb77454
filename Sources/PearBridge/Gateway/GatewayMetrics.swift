import CoreMetrics

/// What the gateway counts for operators (shown at `/metrics` when the daemon bootstraps a metrics backend; nothing is
/// recorded otherwise): peer connections and rooms joined now, chat lines written here and shown from others.
struct GatewayMetrics: Sendable {
    let peerConnections = Gauge(label: "pearirc_peer_connections")
    let roomsJoined = Gauge(label: "pearirc_rooms_joined")
    let localLines = Counter(label: "pearirc_room_lines_total", dimensions: [("origin", "local")])
    let remoteLines = Counter(label: "pearirc_room_lines_total", dimensions: [("origin", "remote")])

    /// The gauges as the state stands now.
    func record(_ state: GatewayState) {
        peerConnections.record(state.peers.count)
        roomsJoined.record(state.rooms.values.count { $0.joined && !$0.kind.isDirect })
    }
}
