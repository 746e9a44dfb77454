import Foundation
import IRCServer
import Testing

/// SASL SCRAM-SHA-256 over AUTHENTICATE (`offersSCRAM`), with RFC 7677's example: the client's first message is
/// looked up, the server-first goes out, the client's proof is checked, the server's signature goes out, and the
/// client's `+` logs it in; a wrong proof, or a name without credentials (a decoy), fails with 904.
@Suite struct SASLSCRAMTests {
    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
    static let credentials = SCRAMCredentials(
        saltedPassword: SCRAMServerExchangeTests.saltedPassword, salt: SCRAMServerExchangeTests.salt, iterations: 4096)
    static let decoy = SCRAMCredentials(salt: Array(repeating: 1, count: 16), iterations: 4096, storedKey: Array(repeating: 2, count: 32), serverKey: Array(repeating: 3, count: 32))

    static func client(_ server: inout ServerHarness) -> ClientID {
        let id = server.connect()
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ :sasl")
        return id
    }

    static func lookUps(_ server: inout ServerHarness) -> [String] {
        defer { server.otherActions.removeAll { if case .lookUpSCRAM = $0 { true } else { false } } }
        return server.otherActions.compactMap { if case .lookUpSCRAM(_, let account) = $0 { account } else { nil } }
    }

    @Test func rfc7677sExampleLogsIn() {
        var server = ServerHarness { $0.offersSCRAM = true }
        let ls = server.send(server.connect(), "CAP LS 302")
        #expect(ls.contains { $0.contains("sasl=PLAIN,EXTERNAL,SCRAM-SHA-256") })
        let id = Self.client(&server)
        #expect(server.send(id, "AUTHENTICATE SCRAM-SHA-256") == ["AUTHENTICATE +"])
        #expect(server.send(id, "AUTHENTICATE " + Self.base64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")).isEmpty)
        #expect(Self.lookUps(&server) == ["user"])
        server.record(server.state.scramCredentialsFound(
            id, account: "user", credentials: Self.credentials, decoy: Self.decoy, serverNonce: SCRAMServerExchangeTests.serverNonce))
        #expect(server.inbox(id) == [
            "AUTHENTICATE " + Self.base64("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        ])
        let final = String(decoding: SCRAMServerExchangeTests.clientFinal, as: UTF8.self)
        #expect(server.send(id, "AUTHENTICATE " + Self.base64(final)) == ["AUTHENTICATE " + Self.base64("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")])
        // The proof was right; the backend confirms the login (the account may have been disabled meanwhile).
        #expect(server.send(id, "AUTHENTICATE +").isEmpty)
        #expect(server.otherActions.contains(.authenticate(id, .scram(account: "user"))))
        server.record(server.state.authenticationFinished(id, login: AccountLogin(account: "user"), now: Date()))
        let done = server.inbox(id)
        #expect(done.count == 2 && done[0].contains(" 900 ") && done[0].contains(" user ") && done[1].contains(" 903 "), "\(done)")
    }

    /// A look-up answer that comes late, after the client gave up on that exchange (the deferred-answer timeout let its
    /// next lines run) and started another for a victim's account, is not used for the new exchange: a proof made with
    /// the first account's password must never log in to the second.
    @Test func aLateLookUpForAnotherAccountIsDropped() {
        var server = ServerHarness { $0.offersSCRAM = true }
        let id = Self.client(&server)
        server.send(id, "AUTHENTICATE SCRAM-SHA-256")
        server.send(id, "AUTHENTICATE " + Self.base64("n,,n=mallory,r=rOprNGfwEbeRWgbNEkqO"))
        // Held while the look-up runs; the deferred-answer timeout lets them run.
        server.send(id, "AUTHENTICATE *")
        server.send(id, "AUTHENTICATE SCRAM-SHA-256")
        server.send(id, "AUTHENTICATE " + Self.base64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        server.advance(31)
        server.record(server.state.tick(now: server.now))
        #expect(Self.lookUps(&server) == ["mallory", "user"])
        _ = server.inbox(id)
        // Mallory's credentials (here RFC 7677's, which she can prove) arrive while the exchange is for "user".
        server.record(server.state.scramCredentialsFound(
            id, account: "mallory", credentials: Self.credentials, decoy: Self.decoy, serverNonce: SCRAMServerExchangeTests.serverNonce))
        #expect(server.inbox(id).isEmpty, "nothing is sent for an answer that is not this exchange's")
        let final = String(decoding: SCRAMServerExchangeTests.clientFinal, as: UTF8.self)
        // Her proof now ends the exchange (a line during a look-up), and nothing logs in.
        #expect(!server.send(id, "AUTHENTICATE " + Self.base64(final)).contains { $0.contains(" 900 ") })
        #expect(!server.otherActions.contains { if case .authenticate(_, .scram) = $0 { true } else { false } })
    }

    @Test func aWrongProofOrAnUnknownNameFails() {
        var server = ServerHarness { $0.offersSCRAM = true }
        let id = Self.client(&server)
        server.send(id, "AUTHENTICATE SCRAM-SHA-256")
        server.send(id, "AUTHENTICATE " + Self.base64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        // No such account: a decoy carries the exchange on to the proof, which fails as a wrong password does.
        server.record(server.state.scramCredentialsFound(
            id, account: "user", credentials: nil, decoy: Self.decoy, serverNonce: SCRAMServerExchangeTests.serverNonce))
        #expect(server.inbox(id).first?.hasPrefix("AUTHENTICATE ") == true)
        let final = String(decoding: SCRAMServerExchangeTests.clientFinal, as: UTF8.self)
        #expect(server.send(id, "AUTHENTICATE " + Self.base64(final)) == [":irc.test 904 * :SASL authentication failed"])

        // A malformed first message: 904 at once, nothing looked up.
        server.send(id, "AUTHENTICATE SCRAM-SHA-256")
        #expect(server.send(id, "AUTHENTICATE " + Self.base64("p=tls-unique,,n=user,r=x")) == [":irc.test 904 * :SASL authentication failed"])
        #expect(Self.lookUps(&server) == ["user"])
    }

    /// Without the setting the mechanism is not offered, and asking for it fails as for any unknown one.
    @Test func notOfferedWithoutTheSetting() {
        var server = ServerHarness()
        let id = Self.client(&server)
        #expect(server.send(id, "AUTHENTICATE SCRAM-SHA-256") == [
            ":irc.test 908 * PLAIN,EXTERNAL :are available SASL mechanisms", ":irc.test 904 * :SASL authentication failed",
        ])
    }
}
