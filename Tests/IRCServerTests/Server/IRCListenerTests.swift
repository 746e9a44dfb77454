import Foundation
import Synchronization
import IRCServer
import NIOCore
import NIOPosix
import NIOSSL
import TestVectors
import Testing

/// Real sockets on 127.0.0.1: registration, channel traffic, TLS with a generated certificate, and a slow reader
/// that is disconnected instead of buffering without bound.
@Suite(.serialized) struct IRCListenerTests {
    static func configuration(_ adjust: (inout IRCServerConfiguration) -> Void = { _ in }) -> IRCServerConfiguration {
        var configuration = IRCServerConfiguration()
        configuration.listeners = [.init(port: 0, tls: false), .init(port: 0, tls: true)]
        configuration.historyOnJoin = 0
        adjust(&configuration)
        return configuration
    }

    static func selfSigned() throws -> (TLSCertificates.Loaded, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-tls-\(UUID().uuidString)")
        let loaded = try TLSCertificates.load(.selfSigned(directory: directory.path))
        return (loaded, directory)
    }

    /// A running server with only a plain listener, and an event loop group for its test clients.
    struct PlainServer {
        let listener: IRCListener
        let group: MultiThreadedEventLoopGroup
        let port: Int

        static func start(_ adjust: (inout IRCServerConfiguration) -> Void = { _ in }) async throws -> PlainServer {
            let listener = try await IRCListener.start(
                configuration: IRCListenerTests.configuration {
                    $0.listeners = [.init(port: 0, tls: false)]
                    adjust(&$0)
                }, backend: InMemoryChatBackend(), tls: nil)
            return PlainServer(
                listener: listener, group: MultiThreadedEventLoopGroup(numberOfThreads: 1),
                port: try #require(listener.port(tls: false)))
        }

        func client() async throws -> LineClient {
            try await LineClient.connect(port: port, group: group)
        }

        func stop() async throws {
            try await listener.shutdown()
            try await group.shutdownGracefully()
        }
    }

    static func register(_ client: LineClient, _ nick: String) async throws {
        try await client.send("NICK \(nick)")
        try await client.send("USER \(nick) 0 * :\(nick)")
        try await client.waitFor(containing: " 001 \(nick) ")
        try await client.waitFor(containing: " 376 \(nick) ")
    }

    /// 2,000 connections from 127.0.0.1 that never register: a client that comes after them still registers at once
    /// (the oldest unregistered connections made room), within a second.
    @Test func connectionsThatNeverRegisterDoNotLockOthersOut() async throws {
        let server = try await PlainServer.start()
        var idle: [LineClient] = []
        for _ in 0..<2_000 { idle.append(try await server.client()) }
        // The server has taken them all in once the pool's oldest survivor of the flood was pushed out too.
        try await idle[2_000 - 128 - 1].waitUntilClosed(timeout: .seconds(60))
        let alice = try await server.client()
        try await alice.send("NICK alice")
        try await alice.send("USER alice 0 * :alice")
        try await alice.waitFor(containing: " 001 alice ", timeout: .seconds(1))
        // The early ones were closed to make room.
        #expect(idle[0].isClosed)
        for client in idle + [alice] { await client.close() }
        try await server.stop()
    }

    /// The TLS listener follows Mozilla's intermediate profile: a TLS 1.2 client offering only CBC-SHA1 suites is
    /// refused; one offering AES-GCM gets in.
    @Test(arguments: [
        ([NIOTLSCipher.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA], false),
        ([NIOTLSCipher.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256], true),
    ])
    func tlsOffersOnlyTheIntermediateProfile(_ offered: [NIOTLSCipher], accepted: Bool) async throws {
        let (tls, directory) = try Self.selfSigned()
        defer { try? FileManager.default.removeItem(at: directory) }
        let listener = try await IRCListener.start(
            configuration: Self.configuration { $0.listeners = [.init(port: 0, tls: true)] }, backend: InMemoryChatBackend(),
            tls: tls.context)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.maximumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = offered
        let client = try await LineClient.connect(
            port: try #require(listener.port(tls: true)), tls: true, tlsConfiguration: configuration, group: group)
        try? await client.send("NICK tlsuser")
        try? await client.send("USER tlsuser 0 * :t")
        if accepted {
            try await client.waitFor(containing: " 001 tlsuser ")
        } else {
            // Refused in the handshake: the connection ends with nothing said.
            try await client.waitUntilClosed()
            #expect(client.takeLines().isEmpty)
        }
        await client.close()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func twoClientsChatOverPlainAndTLS() async throws {
        let (tls, directory) = try Self.selfSigned()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(tls.generated)
        #expect(tls.fingerprint.split(separator: ":").count == 32)
        let keyAttributes = try FileManager.default.attributesOfItem(
            atPath: directory.appendingPathComponent(TLSCertificates.keyFileName).path)
        #expect((keyAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        // Reloading reuses the same certificate.
        #expect(try TLSCertificates.load(.selfSigned(directory: directory.path)).fingerprint == tls.fingerprint)

        let listener = try await IRCListener.start(
            configuration: Self.configuration(), backend: InMemoryChatBackend(), tls: tls.context)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let plainPort = try #require(listener.port(tls: false)), tlsPort = try #require(listener.port(tls: true))
        let alice = try await LineClient.connect(port: plainPort, group: group)
        let bob = try await LineClient.connect(port: tlsPort, tls: true, group: group)
        try await Self.register(alice, "alice")
        try await Self.register(bob, "bob")
        try await alice.send("JOIN #pear")
        try await alice.waitFor(containing: " 366 alice #pear ")
        try await bob.send("JOIN #pear")
        try await alice.waitFor(containing: ":bob!~bob@127.0.0.1 JOIN #pear")
        try await bob.send("PRIVMSG #pear :hello over TLS")
        try await alice.waitFor(containing: ":bob!~bob@127.0.0.1 PRIVMSG #pear :hello over TLS")
        try await alice.send("PRIVMSG #pear :and back in plain text")
        try await bob.waitFor(containing: ":alice!~alice@127.0.0.1 PRIVMSG #pear :and back in plain text")
        try await bob.send("WHOIS bob")
        try await bob.waitFor(containing: " 671 bob bob ")
        try await bob.send("QUIT :bye")
        try await alice.waitFor(containing: ":bob!~bob@127.0.0.1 QUIT :Quit: bye")
        try await bob.waitUntilClosed()
        await alice.close()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }

    /// A TLS client presenting a (self-signed) certificate logs in with SASL EXTERNAL by its fingerprint, sees
    /// the fingerprint in its own WHOIS, and others do not; a client without a certificate is refused EXTERNAL.
    @Test func saslExternalWithAClientCertificate() async throws {
        let (tls, directory) = try Self.selfSigned()
        let (clientTLS, clientDirectory) = try Self.selfSigned()
        defer {
            try? FileManager.default.removeItem(at: directory)
            try? FileManager.default.removeItem(at: clientDirectory)
        }
        let fingerprint = clientTLS.fingerprint.lowercased().replacingOccurrences(of: ":", with: "")
        let backend = InMemoryChatBackend(certificates: [clientTLS.fingerprint: "carol"])
        let listener = try await IRCListener.start(configuration: Self.configuration(), backend: backend, tls: tls.context)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let tlsPort = try #require(listener.port(tls: true))
        let files = (
            chain: clientDirectory.appendingPathComponent(TLSCertificates.certificateFileName).path,
            key: clientDirectory.appendingPathComponent(TLSCertificates.keyFileName).path)
        let carol = try await LineClient.connect(port: tlsPort, tls: true, clientCertificate: files, group: group)
        try await carol.send("CAP LS 302")
        try await carol.waitFor(containing: "sasl=PLAIN,EXTERNAL")
        try await carol.send("CAP REQ sasl")
        try await carol.waitFor(containing: "ACK sasl")
        try await carol.send("AUTHENTICATE EXTERNAL")
        try await carol.waitFor(containing: "AUTHENTICATE +")
        try await carol.send("AUTHENTICATE +")
        try await carol.waitFor(containing: " 900 * ")
        try await carol.waitFor(containing: " 903 ")
        try await carol.send("CAP END")
        try await Self.register(carol, "carol")
        try await carol.send("WHOIS carol")
        try await carol.waitFor(containing: " 330 carol carol carol ")
        try await carol.waitFor(containing: " 276 carol carol :has client certificate fingerprint \(fingerprint)")

        // Without a certificate: EXTERNAL fails at once; others do not see carol's fingerprint.
        let dave = try await LineClient.connect(port: tlsPort, tls: true, group: group)
        try await dave.send("CAP LS 302")
        try await dave.send("CAP REQ sasl")
        try await dave.waitFor(containing: "ACK sasl")
        try await dave.send("AUTHENTICATE EXTERNAL")
        try await dave.waitFor(containing: " 904 * ")
        try await dave.send("CAP END")
        try await Self.register(dave, "dave")
        try await dave.send("WHOIS carol")
        let seen = try await dave.waitFor(containing: " 318 dave carol ")
        #expect(!seen.contains(" 276 "))
        await carol.close()
        await dave.close()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }

    /// A burst far larger than the input backlog (20,000 lines in one write from a flood-exempt loopback client)
    /// is slowed down by holding back reads, never thinned out: every PING is answered, in order.
    @Test func aBurstOfLinesIsAnsweredInFullAndInOrder() async throws {
        let server = try await PlainServer.start()
        let client = try await server.client()
        try await Self.register(client, "burst")
        let count = 20_000
        try await client.send((0..<count).map { "PING t\($0)" }.joined(separator: "\r\n"))
        for index in 0..<count {
            try await client.waitFor("PONG t\(index)") { $0.hasSuffix(" t\(index)") || $0.hasSuffix(":t\(index)") }
        }
        await client.close()
        try await server.stop()
    }

    @Test func oversizedAndGarbageLinesDoNotKillTheConnection() async throws {
        let server = try await PlainServer.start()
        let client = try await server.client()
        try await Self.register(client, "carol")
        try await client.send(String(repeating: "A", count: 20_000))
        try await client.waitFor(containing: " 417 carol ")
        try await client.send("\u{1}\u{2}@@@ ::: ")
        try await client.send("PING :still-here")
        try await client.waitFor(containing: "PONG pearircd.local still-here")
        await client.close()
        try await server.stop()
    }

    /// A burst to a channel fans out to many members at once: every member gets every line, in the order sent.
    @Test func aChannelBurstReachesEveryMemberInOrder() async throws {
        let server = try await PlainServer.start()
        var members: [LineClient] = []
        for index in 0..<12 {
            let member = try await server.client()
            try await Self.register(member, "member\(index)")
            try await member.send("JOIN #burst")
            try await member.waitFor(containing: " 366 member\(index) #burst ")
            members.append(member)
        }
        let count = 300
        try await members[0].send((0..<count).map { "PRIVMSG #burst :line \($0)" }.joined(separator: "\r\n"))
        for member in members.dropFirst() {
            for index in 0..<count {
                try await member.waitFor("line \(index)") { $0.hasSuffix("PRIVMSG #burst :line \(index)") }
            }
        }
        for member in members { await member.close() }
        try await server.stop()
    }

    /// A client that writes its last line without a terminator and then closes has still sent that line: its
    /// QUIT reason reaches the channel, not "Connection closed".
    @Test func aLastLineWithoutTerminatorCountsWhenTheConnectionEnds() async throws {
        let server = try await PlainServer.start()
        let watcher = try await server.client()
        try await Self.register(watcher, "watcher")
        try await watcher.send("JOIN #end")
        try await watcher.waitFor(containing: " 366 watcher #end ")
        let leaver = try await ClientBootstrap(group: server.group).connect(host: "127.0.0.1", port: server.port).get()
        try await leaver.writeAndFlush(ByteBuffer(string: "NICK leaver\r\nUSER leaver 0 * :leaver\r\nJOIN #end\r\n")).get()
        try await watcher.waitFor(containing: ":leaver!~leaver@127.0.0.1 JOIN #end")
        try await leaver.writeAndFlush(ByteBuffer(string: "QUIT :see you")).get()
        try await leaver.close(mode: .output)
        let quit = try await watcher.waitFor(containing: ":leaver!~leaver@127.0.0.1 QUIT")
        #expect(quit.hasSuffix("Quit: see you"), "got \(quit)")
        try? await leaver.close()
        await watcher.close()
        try await server.stop()
    }

    /// Shutting down tells every client why, and closes each connection after that line; channel members hear no
    /// QUIT for one another (they are all going). A client that has stopped reading, with megabytes for it piled up
    /// (and, over TLS, one that will not answer a close_notify either), cannot hold shutdown past its deadline.
    @Test(arguments: [false, true])
    func shutdownTellsEveryClientAndDoesNotWaitForOnesThatDoNotRead(tls: Bool) async throws {
        let (certificates, directory) = try Self.selfSigned()
        defer { try? FileManager.default.removeItem(at: directory) }
        let listener = try await IRCListener.start(
            configuration: Self.configuration {
                $0.listeners = [.init(port: 0, tls: tls)]
                // The stalled client must still be connected when shutdown comes, not dropped for SendQ before.
                $0.sendQueueLimit = 64 * 1024 * 1024
            }, backend: InMemoryChatBackend(), tls: certificates.context)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let port = try #require(listener.port(tls: tls))
        // Connected first, so that a shutdown quitting clients in order would fan its QUIT out to the others.
        let stalled = try await LineClient.connect(port: port, tls: tls, receiveBufferSize: 4096, group: group)
        let alice = try await LineClient.connect(port: port, tls: tls, group: group)
        let bob = try await LineClient.connect(port: port, tls: tls, group: group)
        for (client, nick) in [(stalled, "stalled"), (alice, "alice"), (bob, "bob")] {
            try await Self.register(client, nick)
            try await client.send("JOIN #going")
            try await client.waitFor(containing: " 366 \(nick) #going ")
        }
        try await stalled.stopReading()
        // About 7 MiB for `stalled`, more than its socket buffers and the server's (4 MiB at most here) hold, so the
        // server's writes to it stop completing. bob reads his copy as it comes.
        let line = "PRIVMSG #going :" + String(repeating: "x", count: 400)
        try await alice.send(Array(repeating: line, count: 16_000).joined(separator: "\r\n"))
        try await alice.send("PING :filled")
        try await alice.waitFor(containing: "filled")  // every line before it has been fanned out

        let deadline = Duration.milliseconds(500)
        let started = ContinuousClock.now
        try await listener.shutdown(deadline: deadline)
        let took = ContinuousClock.now - started
        #expect(took < deadline + .seconds(1), "shutdown took \(took)")
        for client in [alice, bob] {
            let farewell = try await client.waitFor("ERROR or QUIT") { $0.hasPrefix("ERROR") || $0.contains(" QUIT ") }
            #expect(farewell == "ERROR :Closing Link: 127.0.0.1 (Server shutting down)")
            try await client.waitUntilClosed()
            // The ERROR was the last line: no QUIT (or anything else) came after it either.
            await #expect(throws: LineClient.Timeout.self) { try await client.waitFor("any line after ERROR") { _ in true } }
        }
        await stalled.close()
        try await group.shutdownGracefully()
    }

    @Test func aSlowReaderIsDisconnectedForSendQ() async throws {
        let server = try await PlainServer.start { $0.sendQueueLimit = 64 * 1024 }
        // The slow reader: a raw socket that registers, joins and then never reads.
        let slow = try await ClientBootstrap(group: server.group)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(host: "127.0.0.1", port: server.port).get()
        try await slow.setOption(.autoRead, value: false).get()
        try await slow.writeAndFlush(ByteBuffer(string: "NICK slow\r\nUSER slow 0 * :slow\r\nJOIN #flood\r\n")).get()
        let talker = try await server.client()
        try await Self.register(talker, "talker")
        try await talker.send("JOIN #flood")
        try await talker.waitFor(containing: " 366 talker #flood ")
        let line = "PRIVMSG #flood :" + String(repeating: "x", count: 400)
        var sent = 0
        var gone = false
        while sent < 200_000, !gone {
            for _ in 0..<200 { try await talker.send(line) }
            sent += 200
            try await talker.send("NAMES #flood")
            let names = try await talker.waitFor(containing: " 353 talker ")
            gone = !names.contains("slow")
        }
        #expect(gone, "the slow reader should have been dropped after \(sent) lines")
        await talker.close()
        try? await slow.close()
        try await server.stop()
    }
}

/// A local paste must not be cut off: lines that wait behind a late answer slow the client down instead.
@Suite(.serialized) struct PasteTests {
    /// The in-memory backend, with channel history that answers only when the test opens the gate.
    final class GatedHistoryBackend: ChatBackend {
        let inner = InMemoryChatBackend()
        let gate = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        var events: AsyncStream<BackendEvent> { inner.events }
        func handle(_ request: BackendRequest) async { await inner.handle(request) }
        func history(_ query: HistoryQuery) async -> [ChatLine] {
            await withCheckedContinuation { continuation in
                let open = gate.withLock { gate in
                    if !gate.open { gate.waiters.append(continuation) }
                    return gate.open
                }
                if open { continuation.resume() }
            }
            return await inner.history(query)
        }
        func historyTargets(_ query: HistoryTargetsQuery) async -> [HistoryTarget] { await inner.historyTargets(query) }
        func authenticate(_ credentials: SASLCredentials) async -> AccountLogin? { nil }
        func service(_ name: String, from nick: String, account: String?, text: String) async -> [String]? { nil }

        func open() {
            let waiters = gate.withLock { gate in
                gate.open = true
                defer { gate.waiters = [] }
                return gate.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    @Test func aPasteAfterJoinIsSlowedNotDisconnected() async throws {
        let backend = GatedHistoryBackend()
        let listener = try await IRCListener.start(
            configuration: IRCListenerTests.configuration {
                $0.listeners = [.init(port: 0, tls: false)]
                $0.historyOnJoin = 50
            }, backend: backend, tls: nil)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let port = try #require(listener.port(tls: false))
        let reader = try await LineClient.connect(port: port, group: group)
        let paster = try await LineClient.connect(port: port, group: group)
        try await IRCListenerTests.register(reader, "reader")
        try await IRCListenerTests.register(paster, "paster")
        backend.open()
        try await reader.send("JOIN #paste")
        try await reader.waitFor(containing: " 366 reader ")
        backend.gate.withLock { $0.open = false }
        // JOIN waits for its history; 200 lines pasted behind it, in one write.
        let lines = (0..<200).map { "PRIVMSG #paste :line \($0)" }
        try await paster.send((["JOIN #paste"] + lines).joined(separator: "\r\n"))
        try await reader.waitFor(containing: "JOIN #paste")
        backend.open()
        try await reader.waitFor(containing: "PRIVMSG #paste :line 199", timeout: .seconds(20))
        #expect(!paster.isClosed, "the paster was not disconnected")
        await reader.close()
        await paster.close()
        try await listener.shutdown()
        try await group.shutdownGracefully()
    }
}

@Suite(.serialized) struct UTF8OnlyTests {
    /// UTF8ONLY (IRCv3): invalid UTF-8 is relayed with U+FFFD in its place (legacy-charset clients keep working),
    /// and the sender is told with `WARN <command> INVALID_UTF8` (irctest `utf8.py::testUtf8Validation`).
    @Test func invalidUTF8IsReplacedAndTheSenderWarned() async throws {
        let server = try await IRCListenerTests.PlainServer.start()
        let foo = try await server.client(), bar = try await server.client()
        try await IRCListenerTests.register(foo, "foo")
        try await IRCListenerTests.register(bar, "bar")
        try await foo.send(bytes: Array("PRIVMSG bar :hi".utf8) + [0xAA] + Array("\r\n".utf8))
        let warning = try await foo.waitFor(containing: "WARN")
        #expect(warning.hasSuffix("WARN PRIVMSG INVALID_UTF8 :Invalid UTF-8 was replaced with U+FFFD"))
        let relayed = try await bar.waitFor(containing: "PRIVMSG bar")
        #expect(relayed.hasSuffix("PRIVMSG bar hi\u{FFFD}"), "no trailing colon needed for one word")
        // Valid UTF-8 draws no warning.
        try await foo.send("PRIVMSG bar :héllo")
        try await bar.waitFor(containing: "héllo")
        try await foo.send("PING :done")
        let next = try await foo.waitFor("the PONG") { $0.contains("PONG") || $0.contains("WARN") }
        #expect(next.contains("PONG"))
        await foo.close()
        await bar.close()
        try await server.stop()
    }
}

