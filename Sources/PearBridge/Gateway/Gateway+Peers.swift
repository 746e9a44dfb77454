import Foundation
import HyperLog
import Logging
import SwarmEngine

/// Peer connections: taking one over and reading what it sends. Part of `Gateway`, in its own file for length.
extension Gateway {
    // MARK: - Peers

    /// Takes over a connection: announces our rooms on it and handles what it sends, a batch at a time, until it ends.
    @discardableResult
    public func attach(_ connection: any PeerConnection) -> ConnectionID {
        attach(connection, .batches(connection.eventBatches))
    }

    /// Takes over a connection whose events come one by one (the in-memory link of tests).
    @discardableResult
    public func attach(_ mux: any PeerMux, events: AsyncStream<PeerEvent>) -> ConnectionID {
        attach(mux, .single(events))
    }

    func attach(_ mux: any PeerMux, _ events: PeerEvents) -> ConnectionID {
        let id = nextConnectionID
        nextConnectionID += 1
        let link = PeerLink(mux: mux)
        // Listed at once (`peers`), taken over by the next job.
        links[id] = link
        post(.attach(id, link, events))
        return id
    }

    /// Reads one connection until it ends (on the gateway's executor: what arrives needs no further hop to its driver).
    func read(_ events: PeerEvents, link: PeerLink, id: ConnectionID) async {
        switch events {
        case .single(let stream):
            for await event in stream { await handle([event], link: link, id: id) }
        case .batches(let stream):
            for await batch in stream { await handle(batch, link: link, id: id) }
        }
        post(.peerGone(id))
    }

    /// One batch of a connection's events: the replication messages of one core that arrived together go to its
    /// driver in one call (verified and stored in one step, one hop); everything else goes to the mailbox as one job.
    /// The two paths need no common order: a driver holds messages that come before the peer's open is processed.
    func handle(_ batch: [PeerEvent], link: PeerLink, id: ConnectionID) async {
        var others: [PeerEvent] = []
        var run: (driver: ReplicationDriver, messages: [ReplicationMessage])?
        for event in batch {
            guard case .message(ReplicationMessage.protocolName, let discoveryKey, let type, let bytes) = event else {
                others.append(event)
                continue
            }
            // Protomux delivers messages only once our side is open, and our open follows the driver's
            // registration: a message without a driver is for a channel already gone.
            guard let driver = link.driver(discoveryKey) else { continue }
            guard let message = try? ReplicationMessage(type: type, bytes: bytes) else {
                post(.misbehaved(id, .malformedReplicationMessage))
                return
            }
            if let current = run, current.driver !== driver {
                run = nil
                guard await deliver(current.messages, to: current.driver, on: id) else { return }
            }
            if run == nil { run = (driver, []) }
            run?.messages.append(message)
        }
        if let current = run {
            guard await deliver(current.messages, to: current.driver, on: id) else { return }
        }
        if !others.isEmpty { await withCheckedContinuation { done in post(.peerEvents(id, others, done: done)) } }
    }

    /// Hands a driver its messages; false when that closed the channel (reported).
    func deliver(_ messages: [ReplicationMessage], to driver: ReplicationDriver, on id: ConnectionID) async -> Bool {
        guard let reason = await driver.receive(messages) else { return true }
        replicationEnded(id, reason)
        return false
    }
}
