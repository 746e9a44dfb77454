import Foundation
import IRCServer
import Testing

/// The server side of SCRAM-SHA-256 against RFC 7677's example (user "user", password "pencil"), and the client
/// messages it must refuse.
@Suite struct SCRAMServerExchangeTests {
    /// RFC 7677 §3's credentials: derived from "pencil" with the salt and iteration count of the example (the salted
    /// password computed by RFC 7677's own figures: its StoredKey and ServerKey follow).
    static let salt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
    static let clientFirst = Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8)
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let clientFinal = Array("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=".utf8)

    /// PBKDF2-HMAC-SHA-256("pencil", salt, 4096), as RFC 7677's example implies (checked below through its proof).
    static let saltedPassword: [UInt8] = {
        // Derived with Python's hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096).
        Array(Data(base64Encoded: "xKSVEDI6tPlSysH6mUQZOeeOp01r6B3fcJbodRPcYV0=")!)
    }()

    static func exchange() throws -> SCRAMServerExchange {
        let first = try SCRAMServerExchange.parseClientFirst(Self.clientFirst)
        let credentials = SCRAMCredentials(saltedPassword: Self.saltedPassword, salt: Self.salt, iterations: 4096)
        return SCRAMServerExchange(clientFirst: first, credentials: credentials, serverNonce: Self.serverNonce)
    }

    @Test func rfc7677sExampleExchange() throws {
        let exchange = try Self.exchange()
        #expect(exchange.clientFirst.username == "user")
        #expect(String(decoding: exchange.serverFirstMessage, as: UTF8.self)
            == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        let serverFinal = try exchange.finish(Self.clientFinal)
        #expect(String(decoding: serverFinal, as: UTF8.self) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    }

    @Test func wrongProofsNoncesAndBindingsAreRefused() throws {
        let exchange = try Self.exchange()
        var wrong = String(decoding: Self.clientFinal, as: UTF8.self)
        wrong = wrong.replacingOccurrences(of: "p=dHzb", with: "p=dHzc")
        #expect(throws: SCRAMServerExchange.Failure.wrongProof) { try exchange.finish(Array(wrong.utf8)) }
        let otherNonce = String(decoding: Self.clientFinal, as: UTF8.self).replacingOccurrences(of: "k0,p=", with: "k1,p=")
        #expect(throws: SCRAMServerExchange.Failure.mismatch) { try exchange.finish(Array(otherNonce.utf8)) }
        let otherBinding = String(decoding: Self.clientFinal, as: UTF8.self).replacingOccurrences(of: "c=biws", with: "c=eSws")
        #expect(throws: SCRAMServerExchange.Failure.mismatch) { try exchange.finish(Array(otherBinding.utf8)) }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try exchange.finish(Array("c=biws,r=x".utf8)) }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try exchange.finish([0xff, 0xfe]) }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try exchange.finish(Array("c=biws,r=x,p=!!!".utf8)) }
    }

    @Test func clientFirstMessagesItCannotServeAreRefused() {
        func parse(_ text: String) throws(SCRAMServerExchange.Failure) -> SCRAMServerExchange.ClientFirst {
            try SCRAMServerExchange.parseClientFirst(Array(text.utf8))
        }
        #expect(throws: SCRAMServerExchange.Failure.unsupported) { try parse("p=tls-unique,,n=user,r=abc") }
        #expect(throws: SCRAMServerExchange.Failure.unsupported) { try parse("n,a=admin,n=user,r=abc") }
        #expect(throws: SCRAMServerExchange.Failure.unsupported) { try parse("n,,m=ext,n=user,r=abc") }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try parse("n,,n=user") }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try parse("n,,n=,r=abc") }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try parse("n,,n=us=41er,r=abc") }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try parse("n,,n=user,r=") }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try parse("x,,n=user,r=abc") }
        #expect(throws: SCRAMServerExchange.Failure.malformed) { try parse("") }
        #expect((try? parse("y,,n=a=2Cb=3Dc,r=abc"))?.username == "a,b=c")
    }
}
