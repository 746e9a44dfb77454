import Foundation

/// IRCv3 labeled-response: the replies a command produced for its sender carry the client's `label`.
///
/// No reply gives an `ACK`, one reply gets the `label` tag, several are wrapped in a `labeled-response` batch whose
/// opening line carries the label (nested batches, e.g. chathistory, keep their own tags and sit inside it). Replies
/// that come later (SASL verdict, history, OPER check, service answers) are labeled together with the immediate
/// ones once the last of them arrives (`DeferredAnswers.swift`).
extension IRCServerState {
    /// The label a client attached to `message`, when it negotiated labeled-response.
    func label(of message: IRCMessage, from id: ClientID) -> String? {
        guard let client = clients[id], client.has("labeled-response"),
            let value = message.tags["label"]?.value, !value.isEmpty, value.utf8.count <= 64
        else { return nil }
        return value
    }

    /// Whether the actions from `start` on include an answer to `id` that arrives later.
    func hasDeferredReply(for id: ClientID, from start: Int) -> Bool {
        actions[start...].contains { $0.lateAnswerTarget == id }
    }

    /// Labels the messages to `id` among the actions from `start` on.
    mutating func applyLabel(_ label: String, to id: ClientID, from start: Int) {
        guard clients[id] != nil else { return }  // the command closed the connection
        let positions = actions.indices.dropFirst(start).filter { index in
            if case .send(let target, _) = actions[index] { return target == id }
            return false
        }
        switch positions.count {
        case 0:
            actions.append(.send(id, IRCMessage(
                tags: ["label": label], source: serverSource, command: .verb("ACK"), params: [])))
        case 1:
            guard case .send(_, var message) = actions[positions[0]] else { return }
            message.tags.set("label", label)
            actions[positions[0]] = .send(id, message)
        default:
            guard clients[id]?.has("batch") == true else { return }
            messageCounter += 1
            let reference = "label\(messageCounter)"
            for index in positions {
                guard case .send(_, var message) = actions[index] else { continue }
                if !message.tags.contains("batch") {
                    message.tags.set("batch", reference)
                    actions[index] = .send(id, message)
                }
            }
            let first = positions[0]
            actions.insert(.send(id, IRCMessage(
                tags: ["label": label], source: serverSource, command: .verb("BATCH"),
                params: ["+" + reference, "labeled-response"])), at: first)
            // `positions` shifted by one after the insertion; the end goes after the last labeled line.
            actions.insert(.send(id, IRCMessage(
                source: serverSource, command: .verb("BATCH"), params: ["-" + reference])), at: positions[positions.count - 1] + 2)
        }
    }

    /// Emits `message` to `id` outside the current command's labeled response.
    mutating func emitOutsideLabel(_ id: ClientID, _ message: IRCMessage) {
        let before = actions.count
        emit(id, message)
        guard actions.count > before else { return }
        outsideLabel.append(contentsOf: actions[before...])
        actions.removeSubrange(before...)
    }
}
