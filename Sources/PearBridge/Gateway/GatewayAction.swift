import HyperLog

/// What `GatewayState` asks its shell to do, in order. The shell performs each before taking the next input, so
/// an action may rely on those before it (a replica is opened before its replication starts).
enum GatewayAction: Sendable {
    /// Append these entries (composed in order, with increasing Lamport clocks) to one of our logs of the room (that
    /// of the person who acted), as one batch, then report `appended` (or `appendFailed`).
    case append(RoomTopic, writer: [UInt8], [RoomEntry])
    /// Open (creating if need be) the replica of a newly admitted writer, follow it and report its blocks.
    case openReplica(RoomTopic, writer: [UInt8])
    /// Protomux operations on a connection.
    case openChannel(GatewayState.ConnectionID, protocol: String, id: [UInt8], handshake: [UInt8])
    case send(GatewayState.ConnectionID, protocol: String, id: [UInt8], type: UInt64, message: [UInt8])
    case closeChannel(GatewayState.ConnectionID, protocol: String, id: [UInt8])
    case rejectChannel(GatewayState.ConnectionID, protocol: String, id: [UInt8])
    /// Start replicating `writer`'s log on the connection (a driver, then our `hypercore/alpha` open); `remote` is
    /// the peer's open when it came first.
    case startReplication(GatewayState.ConnectionID, writer: [UInt8], discoveryKey: [UInt8], remote: ReplicationHandshake?)
    /// The core's channel closed: stop and forget its driver.
    case stopReplication(GatewayState.ConnectionID, discoveryKey: [UInt8])
    /// The peer opened a core whose replication already runs here.
    case replicationOpened(GatewayState.ConnectionID, discoveryKey: [UInt8], remote: ReplicationHandshake)
    /// The peer broke the rules: hang up (and let the connection manager remember it).
    case disconnect(GatewayState.ConnectionID, PeerMisbehaviour)
    /// Start (or stop) looking for the room's people: discovery joins (or leaves) the room topic.
    case discover(RoomTopic, Bool)
    /// Keep looking for (or stop looking for) a person by their identity key: someone a direct message waits for
    /// (discovery looks up their person topic, `PersonTopic`).
    case seek([UInt8], Bool)
    /// A person this gateway speaks for from now on: their person topic is announced, so direct messages find them.
    case announcePerson([UInt8])
    /// The peer proved these people on the connection (`PeopleWire`): they count as connected while it lasts.
    case peopleProven(GatewayState.ConnectionID, [[UInt8]])
    /// Our user joined a room nobody shares yet: after a moment (peers found at once need not be announced as
    /// missing), report `aloneCheck`.
    case checkAlone(RoomTopic)
    /// A person opened a direct conversation with us that we do not hold yet: open our log of it
    /// (`conversationOpened`, then `conversationReady`).
    case openConversation(GatewayState.Conversation)
    /// The room catalogue (rooms, whether joined, writer keys) changed: save it.
    case saveCatalogue
    case publish(RoomEvent)
    /// A block of a writer's log was read and is not a valid entry (malformed, or sealed with another key): it is
    /// skipped; the shell says so in its log.
    case skippedBlock(RoomTopic, writer: [UInt8], index: UInt64)
}

/// How a peer broke the rules. A peer that misbehaves is disconnected; nothing it sent unverified was stored.
public enum PeerMisbehaviour: Error, Hashable, Sendable, CustomStringConvertible {
    case malformedRoomHandshake
    case malformedRoomMessage
    /// More writer lists that added nothing than gossip races explain.
    case staleWriterListFlood
    /// Announced more writers than a room admits.
    case tooManyWriters(limit: Int)
    case malformedReplicationHandshake
    case malformedReplicationMessage
    /// Broke the Hypercore replication protocol, or sent data that failed verification.
    case replication(String)
    /// A `pearirc/people/v1` hello that does not decode.
    case malformedPeopleProof
    /// A `pearirc/people/v1` hello with a signature that does not verify: it claims someone it cannot prove.
    case falsePeopleProof

    public var description: String {
        switch self {
        case .malformedRoomHandshake: "malformed room handshake"
        case .malformedRoomMessage: "malformed room message"
        case .staleWriterListFlood: "flood of room writer lists"
        case .tooManyWriters(let limit): "more than \(limit) writers in a room"
        case .malformedReplicationHandshake: "malformed replication handshake"
        case .malformedReplicationMessage: "malformed replication message"
        case .replication(let reason): "replication: \(reason)"
        case .malformedPeopleProof: "malformed people proof"
        case .falsePeopleProof: "false people proof (claims someone it cannot prove)"
        }
    }
}
