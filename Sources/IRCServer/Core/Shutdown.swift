import Foundation

extension IRCServerState {
    /// The server is stopping: every local client is sent `ERROR :Closing Link: <host> (<reason>)`, and its
    /// connection is closed after that line. Nobody is told that anyone quit: the server is going away for everyone,
    /// so a QUIT for each client to each of its channel neighbours (who are being closed too) would be a burst of
    /// lines, quadratic in a channel's size, that nobody gets to read; nor is the backend asked to record the quits.
    /// Afterwards the state holds no local client, so the disconnections that follow change nothing and send nothing.
    /// Remote users stay: they are not this server's to close.
    public mutating func shutdown(reason: String) -> [IRCServerAction] {
        let local = clients.values.filter { !$0.isRemote }.map(\.id).sorted()
        for id in local {
            guard let client = clients[id] else { continue }
            error(id, "Closing Link: \(client.host) (\(reason))")
        }
        for id in local { forgetSilently(id) }
        attachedSessions = [:]
        personByAccount = [:]
        return drain()
    }

    /// Removes a local client from every channel, its nick and its MONITOR list, without a word to anyone.
    private mutating func forgetSilently(_ id: ClientID) {
        guard let client = clients[id] else { return }
        forgetMonitoring(of: id)
        for name in client.joinedChannels {
            channels[name]?.members.removeValue(forKey: id)
            if channels[name]?.members.isEmpty == true { channels.removeValue(forKey: name) }
        }
        if let nick = client.nick, nicks[fold(nick)] == id { nicks.removeValue(forKey: fold(nick)) }
        clients.removeValue(forKey: id)
    }
}
