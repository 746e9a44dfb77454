import HTTPTypes
import Hummingbird

/// What the web listener serves over HTTP besides the WebSocket: for now one page that says where the browser client
/// will be and how to connect an IRC client (the client itself is issue 21's next step). Every response carries the
/// security headers: a Content-Security-Policy with no inline scripts and no third-party resources, no framing, no
/// sniffing, no referrer.
enum WebPages {
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        .cacheControl: "no-store",
    ]

    static let index = """
        <!doctype html>
        <html lang="en">
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>PearIRC</title>
        <h1>PearIRC</h1>
        <p>This gateway speaks IRC over a WebSocket at <code>/irc</code> (IRCv3 <code>text.ircv3.net</code> and
        <code>binary.ircv3.net</code>): web IRC clients such as gamja or Kiwi IRC can connect to it.</p>
        <p>Any IRC client can connect on the gateway's IRC ports too (6667, or TLS on 6697).</p>
        <p><a href="/help">The gateway's commands</a> (a standalone server has none).</p>
        </html>
        """

    static func response(_ body: String, status: HTTPResponse.Status = .ok, contentType: String = "text/html; charset=utf-8") -> Response {
        var headers = securityHeaders
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
