import Foundation
import IRCServer
import Testing

@Suite struct STSTests {
    @Test func advertisedOnlyWhenConfiguredPortOnPlainDurationOnTLS() {
        var plain = ServerHarness()
        var id = plain.connect()
        #expect(!plain.send(id, "CAP LS 302")[0].contains("sts"))
        var configured = ServerHarness { $0.stsPolicy = .init(port: 6697, duration: 300) }
        id = configured.connect()
        #expect(configured.send(id, "CAP LS 302")[0].contains("sts=port=6697"))
        #expect(configured.send(id, "CAP REQ sts") == [":irc.test CAP * NAK sts"])
        let secure = ClientID(99)
        configured.record(configured.state.connected(
            secure, host: "127.0.0.1", secure: true, certificateFingerprint: nil, now: configured.now))
        #expect(configured.send(secure, "CAP LS 302")[0].contains("sts=duration=300"))
    }
}
