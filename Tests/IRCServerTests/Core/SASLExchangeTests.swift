import Foundation
@testable import IRCServer
import Testing

/// The SASL exchange as a client drives it, line by line (IRCv3 SASL 3.1, as irctest's sasl.py checks it): aborting,
/// payloads split in 400-byte chunks, payloads that are too long or malformed, and what may follow each.
@Suite struct SASLExchangeTests {
    /// A client with `sasl` acknowledged, not registered.
    static func saslClient(_ server: inout ServerHarness) -> ClientID {
        let id = server.connect()
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        return id
    }

    static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    /// The credentials the backend was asked to check, in order (and forgets them).
    static func checked(_ server: inout ServerHarness) -> [SASLCredentials] {
        defer { server.otherActions = [] }
        return server.otherActions.compactMap { action in
            if case .authenticate(_, let credentials) = action { return credentials }
            return nil
        }
    }

    @Test func abortingEndsTheExchangeAndANewOneCanStart() {
        var server = ServerHarness()
        let id = Self.saslClient(&server)
        #expect(server.send(id, "AUTHENTICATE *") == [":irc.test 906 * :SASL authentication aborted"])
        #expect(server.send(id, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
        #expect(server.send(id, "AUTHENTICATE *") == [":irc.test 906 * :SASL authentication aborted"])
        // Aborted: a payload now is read as a mechanism name, and refused as one.
        #expect(server.send(id, "AUTHENTICATE \(Self.base64("\0alice\0secret"))") == [
            ":irc.test 908 * PLAIN,EXTERNAL :are available SASL mechanisms", ":irc.test 904 * :SASL authentication failed",
        ])
        #expect(Self.checked(&server).isEmpty)
        #expect(server.send(id, "AUTHENTICATE plain") == ["AUTHENTICATE +"], "mechanism names are case-insensitive")
        server.send(id, "AUTHENTICATE \(Self.base64("\0alice\0secret"))")
        #expect(Self.checked(&server) == [.plain(user: "alice", password: "secret")])
    }

    /// A payload of 400 bytes or more comes in 400-byte chunks; a shorter chunk, or `+` after an exact multiple of
    /// 400, ends it.
    @Test(arguments: [400, 1000])
    func chunkedPayloadsAreJoined(encodedLength: Int) {
        var server = ServerHarness()
        let id = Self.saslClient(&server)
        server.send(id, "AUTHENTICATE PLAIN")
        // A password that makes the base64 exactly `encodedLength` long (a multiple of 4, no padding).
        let password = String(repeating: "p", count: encodedLength / 4 * 3 - "\0alice\0".utf8.count)
        let encoded = Self.base64("\0alice\0" + password)
        #expect(encoded.count == encodedLength)
        var rest = Substring(encoded)
        while rest.count >= 400 {
            #expect(server.send(id, "AUTHENTICATE \(rest.prefix(400))").isEmpty)
            rest = rest.dropFirst(400)
            #expect(Self.checked(&server).isEmpty, "no verdict asked for before the last chunk")
        }
        server.send(id, "AUTHENTICATE \(rest.isEmpty ? "+" : String(rest))")
        #expect(Self.checked(&server) == [.plain(user: "alice", password: password)])
    }

    @Test func aPayloadOverTheLimitFailsAndEndsTheExchange() {
        var server = ServerHarness()
        let id = Self.saslClient(&server)
        server.send(id, "AUTHENTICATE PLAIN")
        let chunk = String(repeating: "A", count: 400)
        for _ in 0..<10 { #expect(server.send(id, "AUTHENTICATE \(chunk)").isEmpty) }
        #expect(server.send(id, "AUTHENTICATE \(chunk)") == [":irc.test 904 * :SASL authentication failed: message too long"])
        #expect(Self.checked(&server).isEmpty)
        #expect(server.send(id, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"], "the exchange is over; a new one starts")
    }

    @Test(arguments: ["+", SASLExchangeTests.base64("alice\0secret"), SASLExchangeTests.base64("\0alice\0secret\0more")])
    func plainNeedsExactlyThreeFields(payload: String) {
        var server = ServerHarness()
        let id = Self.saslClient(&server)
        server.send(id, "AUTHENTICATE PLAIN")
        #expect(server.send(id, "AUTHENTICATE \(payload)") == [":irc.test 904 * :SASL authentication failed"])
        #expect(Self.checked(&server).isEmpty)
        #expect(server.send(id, "AUTHENTICATE EXTERNAL") == [
            ":irc.test 904 * :SASL authentication failed: no TLS client certificate was presented"
        ], "the failed exchange is over: the next line names a mechanism")
    }

    /// A rejected verdict ends the exchange; the client may try again, and once logged in, start over (SASL 3.2).
    @Test func aVerdictEndsTheExchange() {
        var server = ServerHarness()
        let id = Self.saslClient(&server)
        server.send(id, "AUTHENTICATE PLAIN")
        server.send(id, "AUTHENTICATE \(Self.base64("\0alice\0wrong"))")
        server.record(server.state.authenticationFinished(id, account: nil))
        #expect(server.inbox(id) == [":irc.test 904 * :SASL authentication failed"])
        #expect(server.send(id, "AUTHENTICATE PLAIN") == ["AUTHENTICATE +"])
        server.send(id, "AUTHENTICATE \(Self.base64("\0alice\0secret"))")
        server.record(server.state.authenticationFinished(id, account: "alice"))
        #expect(server.inbox(id).with("903").count == 1)
        #expect(server.send(id, "AUTHENTICATE *") == [":irc.test 906 * :SASL authentication aborted"])
        // Registering afterwards keeps the account (no abort: nothing is under way).
        server.send(id, "NICK alice")
        server.send(id, "USER alice 0 * :Alice")
        let welcome = server.send(id, "CAP END")
        #expect(welcome.with("906").isEmpty)
        #expect(welcome.first?.contains(" 001 alice ") == true)
        #expect(server.send(id, "WHOIS alice").with("330") == [":irc.test 330 alice alice alice :is logged in as"])
    }

    /// A backend that never answers: after the deferred-answer timeout the held lines run, and registering then
    /// aborts the exchange still waiting for its verdict.
    @Test func registeringWhileTheVerdictIsPendingAbortsTheExchange() {
        var server = ServerHarness()
        let id = Self.saslClient(&server)
        server.send(id, "AUTHENTICATE PLAIN")
        server.send(id, "AUTHENTICATE \(Self.base64("\0alice\0secret"))")
        server.send(id, "NICK alice")
        server.send(id, "USER alice 0 * :Alice")
        server.send(id, "CAP END")
        #expect(server.inbox(id).isEmpty, "held while the verdict is awaited")
        server.advance(Double(server.state.configuration.deferredAnswerTimeout.components.seconds) + 1)
        server.record(server.state.tick(now: server.now))
        let lines = server.inbox(id)
        #expect(lines.first == ":irc.test 906 alice :SASL authentication aborted")
        #expect(lines.contains { $0.contains(" 001 alice ") })
    }
}
/// `SASLExchange` on its own: each argument from each state, with and without a client certificate.
@Suite struct SASLExchangeTransitionTests {
    typealias Exchange = IRCServer.SASLExchange

    struct Row: Sendable, CustomTestStringConvertible {
        let from: Exchange
        let argument: String
        var fingerprint: String? = nil
        let to: Exchange
        let step: Exchange.Step
        var testDescription: String { "\(from) + \(argument.prefix(24)) -> \(to), \(step)" }
    }

    static let chunk = String(repeating: "A", count: 400)
    static let plainPayload = Data("\0alice\0secret".utf8).base64EncodedString()

    static let rows: [Row] = [
        // Choosing a mechanism.
        Row(from: .idle, argument: "PLAIN", to: .awaitingPayload(mechanism: .plain, received: ""), step: .askForPayload),
        Row(from: .idle, argument: "plain", to: .awaitingPayload(mechanism: .plain, received: ""), step: .askForPayload),
        Row(from: .idle, argument: "SCRAM-SHA-256", to: .idle, step: .unknownMechanism),
        Row(from: .idle, argument: "EXTERNAL", to: .idle, step: .noCertificate),
        Row(
            from: .idle, argument: "EXTERNAL", fingerprint: "ab12", to: .awaitingPayload(mechanism: .external, received: ""),
            step: .askForPayload),
        // Aborting, from anywhere.
        Row(from: .idle, argument: "*", to: .idle, step: .aborted),
        Row(from: .awaitingPayload(mechanism: .plain, received: chunk), argument: "*", to: .idle, step: .aborted),
        Row(from: .verifying(mechanism: .plain), argument: "*", to: .idle, step: .aborted),
        // Collecting the payload.
        Row(
            from: .awaitingPayload(mechanism: .plain, received: ""), argument: chunk,
            to: .awaitingPayload(mechanism: .plain, received: chunk), step: .awaitingMore),
        Row(
            from: .awaitingPayload(mechanism: .plain, received: String(repeating: chunk, count: 10)), argument: chunk,
            to: .idle, step: .failed(.tooLong)),
        Row(
            from: .awaitingPayload(mechanism: .plain, received: ""), argument: plainPayload, to: .verifying(mechanism: .plain),
            step: .verify(.plain(user: "alice", password: "secret"))),
        Row(
            from: .awaitingPayload(mechanism: .plain, received: String(plainPayload.prefix(8))),
            argument: String(plainPayload.dropFirst(8)), to: .verifying(mechanism: .plain),
            step: .verify(.plain(user: "alice", password: "secret"))),
        Row(from: .awaitingPayload(mechanism: .plain, received: ""), argument: "+", to: .idle, step: .failed(.malformed)),
        Row(from: .awaitingPayload(mechanism: .plain, received: ""), argument: "!!!", to: .idle, step: .failed(.invalidBase64)),
        Row(
            from: .awaitingPayload(mechanism: .external, received: ""), argument: "+", fingerprint: "ab12",
            to: .verifying(mechanism: .external),
            step: .verify(.external(certificateFingerprint: "ab12", authorizationIdentity: nil))),
        Row(
            from: .awaitingPayload(mechanism: .external, received: ""), argument: Data("carol".utf8).base64EncodedString(),
            fingerprint: "ab12", to: .verifying(mechanism: .external),
            step: .verify(.external(certificateFingerprint: "ab12", authorizationIdentity: "carol"))),
        Row(from: .awaitingPayload(mechanism: .external, received: ""), argument: "+", to: .idle, step: .noCertificate),
        // A line while the verdict is awaited (only after the deferred-answer timeout): a payload afresh.
        Row(
            from: .verifying(mechanism: .plain), argument: plainPayload, to: .verifying(mechanism: .plain),
            step: .verify(.plain(user: "alice", password: "secret"))),
        Row(from: .verifying(mechanism: .plain), argument: "PLAIN", to: .idle, step: .failed(.invalidBase64)),
    ]

    @Test(arguments: rows)
    func argument(_ row: Row) {
        var exchange = row.from
        let step = exchange.receive(row.argument, certificateFingerprint: row.fingerprint)
        #expect(exchange == row.to)
        #expect(step == row.step)
        #expect(exchange.isUnderWay == (row.to != .idle))
    }

    @Test func theMechanismsAreTheOnesAdvertised() {
        // SCRAM-SHA-256 only where the backend keeps its credentials (`offersSCRAM`: SASLSCRAMTests).
        #expect(IRCServer.SASLMechanism.allCases.map(\.rawValue) == SASLCredentials.mechanisms + ["SCRAM-SHA-256"])
    }
}
