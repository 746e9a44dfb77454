import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import IRCServer
import Logging
import NIOCore
import Prometheus
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The web front end's listener (issue 21): HTTPS (Hummingbird, HTTP/1.1 over TLS, the IRC TLS port's certificate)
/// serving the gateway's pages, and IRC over WebSocket at `/irc` into the same IRC core as the IRC ports (so a web
/// client gets the same rooms, logins and limits). The WebSocket upgrade is refused to pages of other origins
/// (`OriginPolicy`). A `Service`: it runs until the service group stops.
public struct WebListener: Service {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The HTTPS configuration; nil serves plain HTTP (tests, and `--standalone` conformance runs on loopback).
        public var tls: TLSConfiguration?
        /// Origins allowed besides the listener's own (`--web-origin`).
        public var extraOrigins: [String]
        /// The IRC core's send queue limit, applied to WebSocket clients too.
        public var sendQueueLimit: Int

        public init(host: String = "127.0.0.1", port: Int = 6443, tls: TLSConfiguration?, extraOrigins: [String] = [], sendQueueLimit: Int) {
            self.host = host
            self.port = port
            self.tls = tls
            self.extraOrigins = extraOrigins
            self.sendQueueLimit = sendQueueLimit
        }
    }

    /// The path of the IRC WebSocket.
    public static let ircPath = "/irc"

    private let application: Application<RouterResponder<WebRequestContext>>

    /// `onListening` is told the bound address once the listener is up (port 0 picks a free one). `metrics`: the
    /// figures shown at `/metrics` (to loopback clients only); none, no such page. `help`: the gateway's help page
    /// (`/help`), if it has one.
    public init(
        configuration: Configuration, core: IRCServerCore, group: any EventLoopGroup, logger: Logger,
        metrics: PrometheusCollectorRegistry? = nil, help: HelpPage? = nil,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void
    ) throws {
        let router = Router(context: WebRequestContext.self)
        router.get("/") { _, _ in ClientFiles.response(named: "index.html") }
        router.get(RouterPath(ClientFiles.prefix + ":file")) { _, context in
            ClientFiles.response(named: context.parameters.get("file") ?? "")
        }
        if let help {
            let page = help.html
            router.get(RouterPath(HelpPage.path)) { _, _ in WebPages.response(page) }
        }
        if let metrics {
            router.get(RouterPath(MetricsEndpoint.path)) { _, context in MetricsEndpoint.response(metrics, for: context) }
        }
        let sendQueueLimit = configuration.sendQueueLimit
        let secure = configuration.tls != nil
        let boundPort = PortBox()
        let extraOrigins = configuration.extraOrigins
        // Its pages are reached by the names a local user types, and by the address it is bound to.
        let ownHosts = Array(Set(["localhost", "127.0.0.1", "[::1]", configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host]))
        let upgrade = HTTPServerBuilder.http1WebSocketUpgrade(
            configuration: .init(ws: .init(maxFrameSize: IRCWebSocketSession.maximumFrame, validateUTF8: false))
        ) { request, channel, logger in
            // At /irc, and at / for clients that are given only the host (the page at / is served to plain GETs).
            let path = request.path?.split(separator: "?", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard path == Self.ircPath || path == "/" || path.isEmpty else { return .dontUpgrade }
            // The listener's own origins are known once it is bound (its port may have been picked then).
            let policy = OriginPolicy(ownPort: boundPort.port, secure: secure, hosts: ownHosts, extra: extraOrigins)
            guard policy.admits(request.headerFields[values: .origin]) else {
                logger.warning("refused a WebSocket upgrade from another origin", metadata: ["origin": "\(request.headerFields[values: .origin])"])
                return .dontUpgrade
            }
            let subprotocol = WebSocketSubprotocol.choose(offered: request.headerFields[values: .secWebSocketProtocol])
            var headers = HTTPFields()
            if let subprotocol { headers[.secWebSocketProtocol] = subprotocol.rawValue }
            let host = channel.remoteAddress?.ipAddress ?? "unknown"
            return .upgrade(headers) { inbound, outbound, context in
                try await IRCWebSocketSession.run(
                    core: core, inbound: inbound, outbound: outbound, host: host, secure: secure, subprotocol: subprotocol,
                    sendQueueLimit: sendQueueLimit, channel: channel, logger: context.logger)
            }
        }
        let server: HTTPServerBuilder = if let tls = configuration.tls { try .tls(upgrade, tlsConfiguration: tls) } else { upgrade }
        let host = configuration.host
        application = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "pearircd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                boundPort.set(port)
                onListening(host, port)
            },
            eventLoopGroupProvider: .shared(group), logger: logger)
    }

    public func run() async throws {
        try await application.run()
    }
}

/// The bound port, set once the server runs (read by the upgrade check for the listener's own origin).
final class PortBox: Sendable {
    private let value = Mutex(0)
    var port: Int { value.withLock { $0 } }
    func set(_ port: Int) { value.withLock { $0 = port } }
}
