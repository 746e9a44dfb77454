import Hummingbird
import IRCServer
import NIOCore
import Prometheus

/// `/metrics`: the daemon's counters and gauges in Prometheus's text format, for operators. Only for clients on the
/// gateway's own machine (loopback), whatever address the listener is bound to: the figures say who is connected and
/// how busy the gateway is, which is nobody else's business.
enum MetricsEndpoint {
    static let path = "/metrics"
    /// Prometheus's text exposition format.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Whether a request from `address` may read the figures.
    static func admits(_ address: SocketAddress?) -> Bool {
        guard let ip = address?.ipAddress else { return false }
        return LoopbackAddress.contains(ip)
    }

    static func response(_ registry: PrometheusCollectorRegistry, for context: WebRequestContext) -> Response {
        guard admits(context.remoteAddress) else {
            return Response(status: .forbidden, headers: WebPages.securityHeaders, body: .init(byteBuffer: ByteBuffer(string: "metrics are for this machine only\n")))
        }
        var headers = WebPages.securityHeaders
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
}

/// A request's context with the address it came from (for `/metrics`).
struct WebRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
