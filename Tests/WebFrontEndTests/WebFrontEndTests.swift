import Foundation
import HTTPTypes
import HummingbirdWSClient
import IRCServer
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TestVectors
import Testing

@testable import WebFrontEnd

/// The web front end's pure parts: which pages may open the IRC WebSocket, which subprotocol is answered, and how the
/// core's output becomes frames.
@Suite struct WebFrontEndPartsTests {
    @Test(arguments: [
        ([], true),
        (["https://localhost:6443"], true),
        (["https://LOCALHOST:6443/"], true),
        (["https://127.0.0.1:6443"], true),
        (["https://[::1]:6443"], true),
        (["https://chat.example.org"], true),
        (["http://localhost:6443"], false),
        (["https://0.0.0.0:6443"], false),
        (["https://localhost:6444"], false),
        (["https://evil.example"], false),
        (["null"], false),
        (["ws://127.0.0.1"], true),
        (["chrome-extension://abcdef"], false),
        (["https://localhost:6443", "https://evil.example"], false),
        (["https://localhost:6443/path"], false),
        (["https://user@localhost:6443"], false),
    ] as [([String], Bool)])
    func originsArePagesOfThisGatewayOnly(_ origins: [String], _ admitted: Bool) {
        let policy = OriginPolicy(ownPort: 6443, extra: ["https://Chat.Example.org:443"])
        #expect(policy.admits(origins) == admitted, "\(origins)")
    }

    @Test func aPlainListenersOwnPagesAreHTTP() {
        let policy = OriginPolicy(ownPort: 8080, secure: false)
        #expect(policy.admits(["http://127.0.0.1:8080"]))
        #expect(!policy.admits(["https://127.0.0.1:8080"]))
    }

    /// The help page lists the gateway's commands by role, every text escaped.
    @Test func theHelpPageListsCommandsByRoleAndEscapesThem() throws {
        let page = HelpPage(service: "PearServ", commands: [
            .init(syntax: "rooms", summary: "list <your> rooms & more", adminOnly: false),
            .init(syntax: "account add NAME", summary: "add \"an\" account", adminOnly: true),
        ]).html
        #expect(page.contains("<code>rooms</code></th><td>list &lt;your&gt; rooms &amp; more</td>"))
        #expect(!page.contains("<your>"))
        let admins = try #require(page.range(of: "Commands for admins"))
        #expect(page.range(of: "account add NAME")!.lowerBound > admins.lowerBound)
        #expect(page.range(of: "<code>rooms</code>")!.lowerBound < admins.lowerBound)
        #expect(page.contains("add &quot;an&quot; account"))
        #expect(!page.contains("<script"))
    }

    /// The browser client as served: every module an import names is served, and nothing would need the
    /// Content-Security-Policy loosened (no inline script or style, no event-handler attributes, no markup built from
    /// strings, no eval).
    @Test func theBrowserClientFitsItsContentSecurityPolicy() throws {
        let index = String(decoding: try #require(ClientFiles.files["index.html"]).bytes, as: UTF8.self)
        #expect(index.contains("<script type=\"module\" src=\"/app/app.js\"></script>"))
        #expect(!index.contains("<style") && !index.contains("style="))
        #expect(index.firstMatch(of: /\son[a-z]+=/) == nil, "no event-handler attributes")
        for (name, file) in ClientFiles.files where name.hasSuffix(".js") {
            let source = String(decoding: file.bytes, as: UTF8.self)
            for forbidden in ["innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write"] {
                #expect(!source.contains(forbidden), "\(name) uses \(forbidden)")
            }
            let imports = source.matches(of: /from '\.\/([a-z]+\.js)'/).map { String($0.1) }
            for imported in imports { #expect(ClientFiles.files[imported] != nil, "\(name) imports \(imported), which is not served") }
        }
        #expect(ClientFiles.files["style.css"] != nil)
        #expect(ClientFiles.response(named: "../Package.swift").status == .notFound)
    }

    /// `/metrics` is for the gateway's own machine, whatever address the listener is bound to.
    @Test func metricsAreShownToLoopbackClientsOnly() throws {
        for (address, admitted) in [("127.0.0.1", true), ("127.0.0.9", true), ("::1", true), ("192.0.2.7", false), ("::ffff:192.0.2.7", false)] {
            let socket = try SocketAddress(ipAddress: address, port: 40000)
            #expect(MetricsEndpoint.admits(socket) == admitted, "\(address)")
        }
        #expect(!MetricsEndpoint.admits(nil))
    }

    @Test func theFirstSubprotocolWeSpeakIsChosen() {
        #expect(WebSocketSubprotocol.choose(offered: ["binary.ircv3.net, text.ircv3.net"]) == .binary)
        #expect(WebSocketSubprotocol.choose(offered: ["text.ircv3.net", "binary.ircv3.net"]) == .text)
        #expect(WebSocketSubprotocol.choose(offered: ["chat, text.ircv3.net"]) == .text)
        #expect(WebSocketSubprotocol.choose(offered: ["chat"]) == nil)
        #expect(WebSocketSubprotocol.choose(offered: []) == nil)
    }

    @Test func batchedLinesBecomeOneFrameEachAndASendQueueOverflowCloses() async {
        let output = WebSocketLineOutput(limit: 64)
        output.send(Array(":s 001 a :hi\r\n:s 002 a :there\r\n".utf8))
        output.send(Array(String(repeating: "x", count: 60).utf8) + [13, 10])
        var frames: [String] = []
        var closed = false
        for await item in output.items {
            switch item {
            case .line(let bytes): frames.append(String(decoding: bytes, as: UTF8.self))
            case .close: closed = true
            }
            if closed { break }
        }
        #expect(frames == [":s 001 a :hi", ":s 002 a :there"])
        #expect(closed && output.closeReason == "SendQ exceeded")
    }
}

/// IRC over a WebSocket end to end: a client registers and talks through the web listener into the IRC core (a
/// standalone one here), each line one text frame; pages of other origins are refused the upgrade.
@Suite(.serialized) struct WebListenerTests {
    /// A standalone IRC core with no TCP listener, and the web listener on a free loopback port (plain HTTP).
    static func start() async throws -> (IRCListener, Task<Void, any Error>, port: Int, group: MultiThreadedEventLoopGroup) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = IRCServerConfiguration()
        configuration.listeners = []
        configuration.serverName = "web.test"
        let listener = try await IRCListener.start(configuration: configuration, backend: InMemoryChatBackend(), tls: nil, group: group)
        let (ports, reported) = AsyncStream<Int>.makeStream()
        let web = try WebListener(
            configuration: .init(host: "127.0.0.1", port: 0, tls: nil, sendQueueLimit: configuration.sendQueueLimit),
            core: listener.core, group: group, logger: Logger(label: "test.web")
        ) { _, port in reported.yield(port) }
        let runner = Task { try await web.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return (listener, runner, port, group)
    }

    @Test func aClientRegistersAndTalksOverTheWebSocket() async throws {
        let (listener, runner, port, group) = try await Self.start()
        let seen = Mutex<[String]>([])
        var headers = HTTPFields()
        headers[.secWebSocketProtocol] = "text.ircv3.net"
        try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/irc", configuration: .init(maxFrameSize: 1 << 14, additionalHeaders: headers),
            eventLoopGroup: group, logger: Logger(label: "test.ws")
        ) { inbound, outbound, _ in
            try await outbound.write(.text("NICK webby"))
            try await outbound.write(.text("USER webby 0 * :Web"))
            try await outbound.write(.text("PING done"))
            for try await message in inbound.messages(maxSize: 1 << 14) {
                guard case .text(let text) = message else { continue }
                seen.withLock { $0.append(text) }
                if text.hasSuffix("PONG web.test done") { break }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        let lines = seen.withLock { $0 }
        #expect(lines.contains { $0.hasPrefix(":web.test 001 webby ") })
        #expect(lines.allSatisfy { !$0.hasSuffix("\r\n") && !$0.contains("\n") }, "one line per frame, no CR LF")
        runner.cancel()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }

    /// A frame over the limit (the longest IRC line with tags, 8,703 bytes) closes that connection with 1009, as an
    /// overlong line would; the listener and other clients go on.
    @Test func anOversizedFrameClosesItsConnectionOnly() async throws {
        let (listener, runner, port, group) = try await Self.start()
        var headers = HTTPFields()
        headers[.secWebSocketProtocol] = "text.ircv3.net"
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 16, additionalHeaders: headers)
        let closing = try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/irc", configuration: configuration, eventLoopGroup: group, logger: Logger(label: "test.ws")
        ) { inbound, outbound, _ in
            try await outbound.write(.text("NICK big"))
            try await outbound.write(.text("USER big 0 * :Big"))
            try await outbound.write(.text("PRIVMSG big :" + String(repeating: "x", count: IRCWebSocketSession.maximumFrame + 100)))
            for try await _ in inbound.messages(maxSize: 1 << 16) {}
        }
        #expect(closing?.closeCode == .messageTooLarge)
        let answered = Mutex(false)
        try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/irc", configuration: configuration, eventLoopGroup: group, logger: Logger(label: "test.ws")
        ) { inbound, outbound, _ in
            try await outbound.write(.text("PING still-here"))
            for try await message in inbound.messages(maxSize: 1 << 16) {
                if case .text(let text) = message, text.hasSuffix("still-here") {
                    answered.withLock { $0 = true }
                    break
                }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        #expect(answered.withLock { $0 })
        runner.cancel()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }

    /// The HTTP status line a raw upgrade request with these extra header lines gets.
    static func upgradeStatus(port: Int, headers: [String], group: any EventLoopGroup) async throws -> String {
        let client = try await LineClient.connect(port: port, group: group)
        for line in ["GET /irc HTTP/1.1", "Host: 127.0.0.1:\(port)", "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"] + headers + [""] {
            try await client.send(line)
        }
        let status = try await client.waitFor("the status line") { $0.hasPrefix("HTTP/") }
        await client.close()
        return status
    }

    @Test func anotherOriginsPageIsRefusedTheUpgrade() async throws {
        let (listener, runner, port, group) = try await Self.start()
        #expect(try await Self.upgradeStatus(port: port, headers: ["Origin: https://evil.example"], group: group).hasPrefix("HTTP/1.1 4"))
        #expect(try await Self.upgradeStatus(port: port, headers: ["Origin: null"], group: group).hasPrefix("HTTP/1.1 4"))
        // The listener's own pages, and clients that are no page at all, are let in.
        #expect(try await Self.upgradeStatus(port: port, headers: ["Origin: http://localhost:\(port)"], group: group).hasPrefix("HTTP/1.1 101"))
        #expect(try await Self.upgradeStatus(port: port, headers: [], group: group).hasPrefix("HTTP/1.1 101"))
        runner.cancel()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }

    /// Upgrades that are not the IRC WebSocket are refused (a 4xx, or the connection closed by the WebSocket
    /// upgrader, never a 101), and the listener goes on serving: another path, another WebSocket version, no key, a
    /// plain GET of /irc.
    @Test func badUpgradesAreRefusedAndTheListenerGoesOn() async throws {
        let (listener, runner, port, group) = try await Self.start()
        func status(_ lines: [String]) async throws -> String {
            let client = try await LineClient.connect(port: port, group: group)
            for line in lines + [""] { try await client.send(line) }
            let answer = try? await client.waitFor("the status line") { $0.hasPrefix("HTTP/") }
            if answer == nil { try await client.waitUntilClosed() }
            await client.close()
            return answer ?? "HTTP/1.1 4xx (closed)"
        }
        let upgrade = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"]
        let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
        #expect(try await status(["GET /elsewhere HTTP/1.1", "Host: 127.0.0.1"] + upgrade + [key]).hasPrefix("HTTP/1.1 4"))
        #expect(try await status(["GET /irc HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                                   "Sec-WebSocket-Version: 8", key]).hasPrefix("HTTP/1.1 4"))
        #expect(try await status(["GET /irc HTTP/1.1", "Host: 127.0.0.1"] + upgrade).hasPrefix("HTTP/1.1 4"))
        #expect(try await status(["GET /irc HTTP/1.1", "Host: 127.0.0.1"]).hasPrefix("HTTP/1.1 4"))
        #expect(try await Self.upgradeStatus(port: port, headers: [], group: group).hasPrefix("HTTP/1.1 101"), "still serving")
        runner.cancel()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }

    /// A binary frame that is not UTF-8 (binary.ircv3.net) is a line like any: its bad bytes become U+FFFD, the client
    /// is told so (FAIL … INVALID_UTF8), and the connection carries on.
    @Test func aBinaryFrameOfInvalidUTF8IsToldAndTheConnectionCarriesOn() async throws {
        let (listener, runner, port, group) = try await Self.start()
        var headers = HTTPFields()
        headers[.secWebSocketProtocol] = "binary.ircv3.net"
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 16, additionalHeaders: headers)
        let seen = Mutex<[String]>([])
        try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/irc", configuration: configuration, eventLoopGroup: group, logger: Logger(label: "test.ws")
        ) { inbound, outbound, _ in
            try await outbound.write(.binary(ByteBuffer(string: "NICK bin")))
            try await outbound.write(.binary(ByteBuffer(string: "USER bin 0 * :Bin")))
            try await outbound.write(.binary(ByteBuffer(bytes: Array("PRIVMSG bin :caf".utf8) + [0xE9, 0xFF, 0xFE])))
            try await outbound.write(.binary(ByteBuffer(string: "PING after-bad-bytes")))
            for try await message in inbound.messages(maxSize: 1 << 16) {
                guard case .binary(let buffer) = message else { continue }
                let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
                seen.withLock { $0.append(text) }
                if text.hasSuffix("after-bad-bytes") { break }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        let lines = seen.withLock { $0 }
        #expect(lines.contains { $0.contains("INVALID_UTF8") }, "\(lines)")
        #expect(lines.last?.hasSuffix("after-bad-bytes") == true)
        runner.cancel()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }
}
