import Foundation
import HyperLog
import IRCServer

/// `/msg PearServ …`: the gateway's control surface inside IRC.
public struct PearServ: Sendable {
    public static let name = "PearServ"
    /// Dials `host:port` and hands the connection to the gateway.
    public typealias Connector = @Sendable (String, Int) async throws -> Void

    let gateway: Gateway
    let connector: Connector?

    public func handle(_ text: String) async -> [String] {
        let words = text.split(separator: " ").map(String.init)
        switch words.first?.lowercased() {
        case "peers":
            let peers = await gateway.peers
            return peers.isEmpty
                ? ["No peers connected."]
                : ["\(peers.count) peer(s):"]
                    + peers.map { "\($0.label) \(ZBase32.encode($0.remoteKey).prefix(12))… rooms=\($0.sharedRooms)" }
        case "connect":
            guard words.count == 2, let (host, port) = Self.parseAddress(words[1]) else {
                return ["Usage: connect HOST:PORT"]
            }
            guard let connector else { return ["Connecting to peers is not available in this mode."] }
            do {
                try await connector(host, port)
                return ["Connected to \(host):\(port)."]
            } catch {
                return ["Could not connect to \(host):\(port): \(error)"]
            }
        case "identity":
            return ["Your public key: \(gateway.identity.publicKeyText)"]
        default:
            return [
                "PearServ commands:",
                "  peers              list connected gateways",
                "  connect HOST:PORT  connect to another gateway",
                "  identity           show this gateway's public key",
                "  help               this text",
            ]
        }
    }

    public static func parseAddress(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host.isEmpty ? nil : (host, port)
    }
}
