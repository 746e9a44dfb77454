import CoreMetrics

/// What the IRC front end counts for operators (shown at `/metrics` when the daemon bootstraps a metrics backend;
/// nothing is recorded otherwise): connections open now, lines read from clients, messages written to them.
struct IRCServerMetrics: Sendable {
    let connections = Meter(label: "pearirc_irc_connections")
    let linesReceived = Counter(label: "pearirc_irc_lines_received_total")
    let messagesSent = Counter(label: "pearirc_irc_messages_sent_total")
}
