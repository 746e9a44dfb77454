import Foundation

/// Commands whose answer comes later (SASL verdict, history, OPER password check, service replies) keep a client's
/// replies in order: until every answer a command asked for has arrived, the client's further lines are held and
/// run afterwards, at the time they were received. Clients (and irctest) rely on replies coming in the order of
/// their commands, e.g. a `PING` sent after `OPER` must not be answered before the OPER verdict.
///
/// With labeled-response, the command's immediate replies are kept back too and labeled together with the late ones.
extension IRCServerState {
    /// How many of the client's lines wait behind a late answer (the core stops reading from it past a threshold).
    public func heldLineCount(of id: ClientID) -> Int {
        clients[id]?.heldLines.count ?? 0
    }

    /// Runs `message` now, or holds it while an earlier command of the client still waits for an answer.
    mutating func run(_ message: IRCMessage, from id: ClientID, now: Date) {
        guard let client = clients[id] else { return }
        guard client.awaitingAnswers == 0 else {
            guard client.heldLines.count < configuration.floodQueueLength else {
                error(id, "Closing Link: \(client.host) (Excess Flood)")
                quit(id, reason: "Excess Flood", now: now, notifySelf: false)
                return
            }
            clients[id]?.heldLines.append(HeldLine(message: message, received: now))
            return
        }
        process(message, from: id, now: now)
    }

    /// Runs one message, labeling its replies or noting the answers it waits for.
    mutating func process(_ message: IRCMessage, from id: ClientID, now: Date) {
        let label = label(of: message, from: id)
        let start = actions.count
        processingLabeledCommand = label != nil
        dispatch(message, from: id, now: now)
        processingLabeledCommand = false
        if !attachedSessions.isEmpty { sharePersonChanges(from: id) }
        noteLateAnswers(from: start, forOthersThan: id, now: now)
        let deferred = deferredReplies(for: id, from: start)
        if deferred > 0, clients[id] != nil {
            clients[id]?.awaitingAnswers += deferred
            if clients[id]?.awaitingSince == nil { clients[id]?.awaitingSince = now }
            if let label {
                clients[id]?.pendingLabel = label
                stashReplies(to: id, from: start)
            }
        } else if let label {
            applyLabel(label, to: id, from: start)
        }
        actions.append(contentsOf: outsideLabel)
        outsideLabel = []
    }

    /// Late answers that the actions from `start` on make clients other than `id` wait for (a JOIN's replay to the
    /// person's other connections, `Sessions.swift`): counted as their own commands' would be, so their lines wait for
    /// them and the answer is not taken for another.
    mutating func noteLateAnswers(from start: Int, forOthersThan id: ClientID, now: Date?) {
        for action in actions[start...] {
            guard let target = action.lateAnswerTarget, target != id, let client = clients[target] else { continue }
            clients[target]?.awaitingAnswers += 1
            if client.awaitingSince == nil { clients[target]?.awaitingSince = now ?? client.lastActivity }
        }
    }

    /// How many of the actions from `start` on answer `id` later.
    func deferredReplies(for id: ClientID, from start: Int) -> Int {
        actions[start...].count { $0.lateAnswerTarget == id }
    }

    /// Moves the sends to `id` among the actions from `start` on into its pending replies.
    mutating func stashReplies(to id: ClientID, from start: Int) {
        var kept: [IRCServerAction] = []
        for action in actions[start...] {
            if case .send(let target, _) = action, target == id {
                clients[id]?.pendingReplies.append(action)
            } else {
                kept.append(action)
            }
        }
        actions.removeSubrange(start...)
        actions.append(contentsOf: kept)
    }

    /// Runs `body`, which delivers one late answer to `id`; when it was the last one awaited, sends the labeled
    /// response (if any) and runs the lines held meanwhile.
    mutating func answeringDeferred(_ id: ClientID, _ body: (inout IRCServerState) -> Void) {
        let start = actions.count
        body(&self)
        noteLateAnswers(from: start, forOthersThan: id, now: nil)
        guard let client = clients[id] else { return }
        // An answer may lead to more (a login that completes registration and attaches to a person asks for the
        // history of each of its channels): those are waited for too.
        let added = deferredReplies(for: id, from: start)
        if added > 0, client.awaitingSince == nil { clients[id]?.awaitingSince = client.lastActivity }
        let remaining = max(0, client.awaitingAnswers - 1) + added
        clients[id]?.awaitingAnswers = remaining
        if client.pendingLabel != nil { stashReplies(to: id, from: start) }
        guard remaining == 0 else { return }
        finishWaiting(id)
    }

    /// Stops waiting (every answer arrived, or the backend took too long): sends the labeled response and runs the
    /// held lines.
    mutating func finishWaiting(_ id: ClientID) {
        clients[id]?.awaitingAnswers = 0
        clients[id]?.awaitingSince = nil
        if let label = clients[id]?.pendingLabel {
            let replies = clients[id]?.pendingReplies ?? []
            clients[id]?.pendingLabel = nil
            clients[id]?.pendingReplies = []
            let labeled = actions.count
            actions.append(contentsOf: replies)
            applyLabel(label, to: id, from: labeled)
        }
        while let line = clients[id]?.heldLines.first, clients[id]?.awaitingAnswers == 0 {
            clients[id]?.heldLines.removeFirst()
            process(line.message, from: id, now: line.received)
        }
    }

    /// A backend that never answers must not freeze a client: after `deferredAnswerTimeout` the held lines run.
    mutating func expireWaiting(now: Date) {
        let limit = configuration.deferredAnswerTimeout.seconds
        let stuck = clients.values.filter { client in
            guard let since = client.awaitingSince else { return false }
            return now.timeIntervalSince(since) > limit
        }.map(\.id).sorted()
        for id in stuck { finishWaiting(id) }
    }
}

/// A line received while the client waited for a late answer.
struct HeldLine: Sendable {
    var message: IRCMessage
    var received: Date
}
