import Foundation

/// MONITOR (IRCv3): clients list nicks and hear when they come online (730) or go offline (731).
extension IRCServerState {
    mutating func handleMonitor(_ params: [String], from id: ClientID) {
        guard let client = clients[id] else { return }
        guard let subcommand = params.first?.uppercased() else {
            reply(client, .errNeedMoreParams, ["MONITOR", "Not enough parameters"])
            return
        }
        let targets = params.count > 1
            ? params[1].split(separator: ",").map(String.init).filter { !$0.isEmpty } : []
        switch subcommand {
        case "+":
            guard !targets.isEmpty else {
                reply(client, .errNeedMoreParams, ["MONITOR", "Not enough parameters"])
                return
            }
            var online: [String] = []
            var offline: [String] = []
            for (position, nick) in targets.enumerated() {
                let folded = fold(nick)
                guard validation.isValidNick(nick) else { continue }
                if clients[id]?.monitoring.contains(folded) == true { continue }
                if (clients[id]?.monitoring.count ?? 0) >= configuration.monitorLimit {
                    reply(client, .errMonListFull, [
                        String(configuration.monitorLimit), targets[position...].joined(separator: ","),
                        "Monitor list is full",
                    ])
                    break
                }
                clients[id]?.monitoring.append(folded)
                monitors[folded, default: []].insert(id)
                if let target = nicks[folded].flatMap({ clients[$0] }), target.isRegistered || target.isRemote {
                    online.append(target.mask)
                } else {
                    offline.append(nick)
                }
            }
            for line in Self.commaLines(online) { reply(client, .rplMonOnline, [line]) }
            for line in Self.commaLines(offline) { reply(client, .rplMonOffline, [line]) }
        case "-":
            for nick in targets { stopMonitoring(fold(nick), by: id) }
        case "C":
            for folded in client.monitoring { stopMonitoring(folded, by: id) }
        case "L":
            let names = client.monitoring.map { folded in nicks[folded].flatMap { clients[$0]?.nick } ?? folded }
            for line in Self.commaLines(names) { reply(client, .rplMonList, [line]) }
            reply(client, .rplEndOfMonList, ["End of MONITOR list"])
        case "S":
            var online: [String] = []
            var offline: [String] = []
            for folded in client.monitoring {
                if let target = nicks[folded].flatMap({ clients[$0] }), target.isRegistered || target.isRemote {
                    online.append(target.mask)
                } else {
                    offline.append(folded)
                }
            }
            for line in Self.commaLines(online) { reply(client, .rplMonOnline, [line]) }
            for line in Self.commaLines(offline) { reply(client, .rplMonOffline, [line]) }
        default:
            reply(client, .errUnknownCommand, ["MONITOR", "Unknown MONITOR subcommand"])
        }
    }

    mutating func stopMonitoring(_ folded: String, by id: ClientID) {
        clients[id]?.monitoring.removeAll { $0 == folded }
        monitors[folded]?.remove(id)
        if monitors[folded]?.isEmpty == true { monitors.removeValue(forKey: folded) }
    }

    /// Tells the clients monitoring `nick` that it came online (`mask` given) or went offline.
    mutating func notifyMonitors(nick: String, mask: String?) {
        guard let watchers = monitors[fold(nick)] else { return }
        for watcher in watchers.sorted() {
            guard let client = clients[watcher] else { continue }
            if let mask {
                reply(client, .rplMonOnline, [mask])
            } else {
                reply(client, .rplMonOffline, [nick])
            }
        }
    }

    /// Drops everything `id` monitors (it is leaving).
    mutating func forgetMonitoring(of id: ClientID) {
        for folded in clients[id]?.monitoring ?? [] {
            monitors[folded]?.remove(id)
            if monitors[folded]?.isEmpty == true { monitors.removeValue(forKey: folded) }
        }
    }

    /// Joins names with commas into lines short enough for a numeric.
    static func commaLines(_ names: [String], limit: Int = 400) -> [String] {
        var lines: [String] = []
        var current = ""
        for name in names {
            if !current.isEmpty, current.utf8.count + 1 + name.utf8.count > limit {
                lines.append(current)
                current = ""
            }
            current += current.isEmpty ? name : "," + name
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
