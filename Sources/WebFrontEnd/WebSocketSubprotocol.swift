import Foundation

/// The IRCv3 WebSocket subprotocols (https://ircv3.net/specs/extensions/websocket): `text.ircv3.net` carries each
/// IRC line as a text frame (UTF-8; what is not is replaced), `binary.ircv3.net` as a binary frame (bytes as they
/// are). The server picks the first one the client offers that it speaks; a client that offers none gets text frames
/// and no subprotocol header.
public enum WebSocketSubprotocol: String, Sendable, CaseIterable {
    case text = "text.ircv3.net"
    case binary = "binary.ircv3.net"

    /// The subprotocol to answer with, from the client's `Sec-WebSocket-Protocol` header values (comma-separated,
    /// possibly several headers), in the client's order of preference; nil when it offers none we speak.
    public static func choose(offered headerValues: [String]) -> WebSocketSubprotocol? {
        let offered = headerValues.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        return offered.lazy.compactMap { WebSocketSubprotocol(rawValue: $0) }.first
    }
}
