import HTTPTypes
import Hummingbird

/// The browser client's files (Sources/WebFrontEnd/Client: plain HTML, CSS and ES modules, no build step), compiled
/// into the binary, served at `/` (the page) and `/app/NAME`, with the security headers every page has.
enum ClientFiles {
    static let prefix = "/app/"

    /// Name → (bytes, content type). Only these are served: a path names a file of this table or nothing.
    static let files: [String: (bytes: [UInt8], contentType: String)] = [
        "index.html": (PackageResources.index_html, "text/html; charset=utf-8"),
        "style.css": (PackageResources.style_css, "text/css; charset=utf-8"),
        "app.js": (PackageResources.app_js, "text/javascript; charset=utf-8"),
        "connection.js": (PackageResources.connection_js, "text/javascript; charset=utf-8"),
        "commands.js": (PackageResources.commands_js, "text/javascript; charset=utf-8"),
        "irc.js": (PackageResources.irc_js, "text/javascript; charset=utf-8"),
        "state.js": (PackageResources.state_js, "text/javascript; charset=utf-8"),
        "view.js": (PackageResources.view_js, "text/javascript; charset=utf-8"),
    ]

    static func response(named name: String) -> Response {
        guard let file = files[name] else {
            return WebPages.response("Not found\n", status: .notFound, contentType: "text/plain; charset=utf-8")
        }
        var headers = WebPages.securityHeaders
        headers[.contentType] = file.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}
