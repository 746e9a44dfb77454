import Foundation

/// A channel line that waits for the backend to store it (`IRCServerConfiguration.channelLinesAwaitStorage`).
struct UnstoredLine: Sendable, Hashable {
    let sender: ClientID
    /// The folded channel name; nil for a private message to a remote user (`carryPrivate`).
    let channel: String?
    /// The line as the channel will see it.
    let message: IRCMessage
    let command: String
    /// The line was labeled: its echo (or ACK, or failure) is its command's late answer.
    let answersLate: Bool
    /// The sender's account: its person's other connections see a private message sent (or its failure), even when
    /// the sender has gone meanwhile (`Sessions.swift`).
    let account: String?
}

/// Durable acknowledgement: where the backend keeps channel lines (the peer-to-peer rooms), a line is shown only once
/// it is stored. Until then neither the channel nor the sender's echo has it; when it cannot be stored, the sender
/// is told and nobody else sees it. Lines are handed over without waiting for one another, so a burst is stored
/// together (the backend's group commit) and a client's other commands are not held up.
extension IRCServerState {
    /// Keeps a line (to a channel, folded; nil for a private message) shown to nobody until the backend reports it
    /// stored; returns the token the report names it by.
    mutating func holdUntilStored(_ message: IRCMessage, in channel: String?, from sender: ClientID, command: String) -> UInt64 {
        let token = nextLineToken
        nextLineToken += 1
        unstoredLines[token] = UnstoredLine(
            sender: sender, channel: channel, message: message, command: command, answersLate: processingLabeledCommand,
            account: clients[sender]?.account)
        return token
    }

    /// The backend stored the line (`failure` nil), or could not (`failure` says why).
    public mutating func lineStored(_ token: UInt64, failure: String?, now: Date) -> [IRCServerAction] {
        guard let line = unstoredLines.removeValue(forKey: token) else { return [] }
        if line.answersLate {
            answeringDeferred(line.sender) { state in state.deliver(line, failure: failure) }
        } else {
            deliver(line, failure: failure)
        }
        return drain()
    }

    /// The connections of the sender's person other than the sender (none unless connections share accounts).
    private func otherSessions(of line: UnstoredLine) -> [ClientID] {
        guard let account = line.account, let person = personByAccount[fold(account)] else { return [] }
        return sessions(of: person).filter { $0 != line.sender }
    }

    private mutating func deliver(_ line: UnstoredLine, failure: String?) {
        let target = line.message.params.first ?? "*"
        if let failure {
            let text = "Your message to \(target) was not stored, so nobody got it: \(failure)"
            // The sender, or when it has gone, its person's other connections, hear it failed.
            let told = clients[line.sender] != nil ? [line.sender] : otherSessions(of: line)
            for id in told {
                guard let recipient = clients[id] else { continue }
                if recipient.has("standard-replies") {
                    emit(id, IRCMessage(
                        source: serverSource, command: .verb("FAIL"), params: [line.command, "MESSAGE_NOT_STORED", target, text]))
                } else {
                    emit(id, IRCMessage(source: serverSource, command: .verb("NOTICE"), params: [recipient.nick ?? "*", text]))
                }
            }
            return
        }
        if let name = line.channel, let channel = channels[name] {
            showChannelLine(line.message, in: channel, from: line.sender, statusPrefix: nil)
        } else {
            // A private message, or everyone left the channel meanwhile: the sender still sees the line it sent was
            // stored, and its other connections see it sent.
            if clients[line.sender]?.has("echo-message") == true { emit(line.sender, line.message) }
            if line.channel == nil {
                for session in otherSessions(of: line) { emit(session, line.message) }
            }
        }
    }

    /// What became of a private message to a remote user (`carryPrivate`): shown to its sender once stored, with
    /// RPL_AWAY when nobody can take it now; a target nobody knows is ERR_NOSUCHNICK; a failure is said, as for a
    /// channel line. NOTICE gets no automatic replies.
    public mutating func privateMessageCarried(_ token: UInt64, _ delivery: PrivateDelivery, now: Date) -> [IRCServerAction] {
        guard let line = unstoredLines.removeValue(forKey: token) else { return [] }
        let answer = { (state: inout IRCServerState) in
            let target = line.message.params.first ?? "*"
            let isPrivmsg = line.command == "PRIVMSG"
            switch delivery {
            case .sent:
                state.deliver(line, failure: nil)
            case .held(let away):
                state.deliver(line, failure: nil)
                if isPrivmsg, let sender = state.clients[line.sender] { state.reply(sender, .rplAway, [target, away]) }
            case .unknownTarget(let text):
                if isPrivmsg, let sender = state.clients[line.sender] { state.reply(sender, .errNoSuchNick, [target, text]) }
            case .failed(let reason):
                state.deliver(line, failure: reason)
            }
        }
        if line.answersLate {
            answeringDeferred(line.sender, answer)
        } else {
            answer(&self)
        }
        return drain()
    }
}
