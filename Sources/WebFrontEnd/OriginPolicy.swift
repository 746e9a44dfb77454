import Foundation

/// Which web pages may open the IRC WebSocket. Any page a user visits can make their browser connect to a port on
/// localhost, and the browser says which page asks in the `Origin` header: only the web front end's own pages (and
/// origins the operator adds, `--web-origin`) are let through. A connection without an `Origin` is not a browser's
/// page (a native client, a test): browsers always send it on a WebSocket upgrade, so it cannot be a page's trick;
/// nor can a `ws://` or `wss://` origin, which no browser sends for a page.
public struct OriginPolicy: Sendable, Hashable {
    /// Allowed origins, normalised (`scheme://host[:port]`, lowercase, default ports left out).
    public private(set) var allowed: Set<String>

    /// The front end's own origins on `port` (its scheme, on the names a local user types, and on the address it is
    /// bound to), plus `extra`.
    public init(ownPort port: Int, secure: Bool = true, hosts: [String] = ["localhost", "127.0.0.1", "[::1]"], extra: [String] = []) {
        var allowed = Set<String>()
        let scheme = secure ? "https" : "http"
        for host in hosts {
            if let origin = Self.normalised("\(scheme)://\(host):\(port)") { allowed.insert(origin) }
        }
        for origin in extra {
            if let origin = Self.normalised(origin) { allowed.insert(origin) }
        }
        self.allowed = allowed
    }

    /// Whether a request with these `Origin` header values may upgrade.
    public func admits(_ origins: [String]) -> Bool {
        guard !origins.isEmpty else { return true }
        // Several Origin headers, or the opaque "null" origin (sandboxed frames, files): refused.
        guard origins.count == 1 else { return false }
        // A ws:// or wss:// origin is no page's (browsers send the page's http(s) origin): a native WebSocket library
        // naming the server it connects to.
        let scheme = origins[0].split(separator: ":").first.map { $0.lowercased() }
        if scheme == "ws" || scheme == "wss" { return true }
        guard let origin = Self.normalised(origins[0]) else { return false }
        return allowed.contains(origin)
    }

    /// `scheme://host[:port]` lowercased, without a default port or a trailing slash; nil for anything else.
    static func normalised(_ text: String) -> String? {
        guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)), let scheme = url.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = url.host?.lowercased(), !host.isEmpty,
            url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil
        else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        if let port = url.port, port != defaultPort { return "\(scheme)://\(bracketed):\(port)" }
        return "\(scheme)://\(bracketed)"
    }
}
