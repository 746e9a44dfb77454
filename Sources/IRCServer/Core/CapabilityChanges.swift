extension IRCServerState {
    /// Withdraws capabilities from the offer, or offers withdrawn ones again, while clients are connected
    /// (IRCv3 cap-notify): clients that negotiated `cap-notify` (implied by `CAP LS 302`) get `CAP * DEL :names` or
    /// `CAP * NEW :name=value…`, and a withdrawn capability stops applying to everyone who had it enabled. Names this
    /// server does not implement, and changes that change nothing, are ignored. `cap-notify` itself stays.
    public mutating func changeCapabilities(offer: Set<String>, withdraw: Set<String>) -> [IRCServerAction] {
        let known = Set(supportedCapabilities.map(\.name)).union(configuration.stsPolicy == nil ? [] : ["sts"])
        let removed = withdraw.intersection(known).subtracting(withdrawnCapabilities).subtracting(["cap-notify"])
        let added = offer.intersection(withdrawnCapabilities).subtracting(withdraw)
        guard !removed.isEmpty || !added.isEmpty else { return drain() }
        withdrawnCapabilities.formUnion(removed)
        withdrawnCapabilities.subtract(added)
        for id in clients.keys.sorted() {
            guard var client = clients[id] else { continue }
            client.caps.subtract(removed)
            clients[id] = client
            // CAP LS 302 implies cap-notify, and a server must not turn it off for such a client.
            guard client.has("cap-notify") || client.capVersion >= 302 else { continue }
            let target = client.nick ?? "*"
            if !removed.isEmpty {
                emit(id, IRCMessage(source: serverSource, command: .verb("CAP"), params: [target, "DEL", removed.sorted().joined(separator: " ")]))
            }
            if !added.isEmpty {
                let entries = offeredCapabilities(for: client).filter { added.contains($0.name) }.map { cap in
                    if let value = cap.value, client.capVersion >= 302 { return "\(cap.name)=\(value)" }
                    return cap.name
                }
                emit(id, IRCMessage(source: serverSource, command: .verb("CAP"), params: [target, "NEW", entries.joined(separator: " ")]))
            }
        }
        return drain()
    }
}
