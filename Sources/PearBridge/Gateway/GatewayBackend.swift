import Foundation
import IRCServer
import SwarmEngine

/// The `ChatBackend` the IRC front end talks to in peer-to-peer mode: a thin adapter over the `Gateway`, plus the
/// `PearServ` service user.
public final class GatewayBackend: ChatBackend {
    public let gateway: Gateway
    let service: PearServ

    public init(gateway: Gateway, connector: PearServ.Connector?) {
        self.gateway = gateway
        service = PearServ(gateway: gateway, connector: connector)
    }

    public var events: AsyncStream<BackendEvent> { gateway.events }

    public func handle(_ request: BackendRequest) async {
        await gateway.handle(request)
    }

    public func history(_ query: HistoryQuery) async -> [ChatLine] {
        await gateway.history(query)
    }

    /// Rooms only (private messages have no history here yet): each channel with its latest line in the window.
    public func historyTargets(_ query: HistoryTargetsQuery) async -> [HistoryTarget] {
        var found: [HistoryTarget] = []
        for channel in query.channels {
            if let latest = await gateway.latestLineTime(channel: channel) {
                found.append(HistoryTarget(name: channel, latest: latest))
            }
        }
        return query.select(found)
    }

    /// A gateway has no accounts: it serves its owner, and SASL answers "failed" (clients then register without).
    public func authenticate(_ credentials: SASLCredentials) async -> String? {
        nil
    }

    public func service(_ name: String, from nick: String, text: String) async -> [String]? {
        guard name.lowercased() == PearServ.name.lowercased() else { return nil }
        return await service.handle(text)
    }
}

/// `/msg PearServ …`: the gateway's control surface inside IRC.
public struct PearServ: Sendable {
    public static let name = "PearServ"
    /// Dials `host:port` and attaches the connection to the gateway.
    public typealias Connector = @Sendable (String, Int) async throws -> Void

    let gateway: Gateway
    let connector: Connector?

    public func handle(_ text: String) async -> [String] {
        let words = text.split(separator: " ").map(String.init)
        switch words.first?.lowercased() {
        case "peers":
            let peers = await gateway.peerLabels
            return peers.isEmpty ? ["No peers connected."] : ["\(peers.count) peer(s):"] + peers
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
