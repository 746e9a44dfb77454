import Foundation
import IRCServer
import Testing

/// Credentials the backend could not check now (`AuthenticationVerdict.unavailable`: too many logins at once) are
/// not failed logins (issue 20): the client is told why, and no back-off follows, so a flood of someone else's
/// attempts cannot lock a person out.
@Suite struct LoginVerdictTests {
    @Test func anUncheckedSASLLoginSaysWhyAndIsNotCountedAsAFailure() {
        var server = ServerHarness(configure: AccountLoginTests.gateway)
        let id = server.connect(loginRequired: true)
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ sasl")
        for _ in 0..<5 {
            server.send(id, "AUTHENTICATE PLAIN")
            server.send(id, "AUTHENTICATE \(AccountLoginTests.base64("\0alice\0pw"))")
            #expect(server.takeBackendCalls() == [.authenticate(id, .plain(user: "alice", password: "pw"))])
            server.record(server.state.authenticationUnavailable(id, reason: "busy; try again in a moment", now: server.now))
            #expect(server.inbox(id) == [":irc.test 904 * :SASL authentication failed: busy; try again in a moment"])
        }
        // Five unchecked attempts later, the next is still asked of the backend (three failures would have been).
        server.send(id, "AUTHENTICATE PLAIN")
        server.send(id, "AUTHENTICATE \(AccountLoginTests.base64("\0alice\0pw"))")
        #expect(server.takeBackendCalls().count == 1)
        server.record(server.state.authenticationFinished(id, account: "alice", now: server.now))
        #expect(server.inbox(id).with("903").count == 1)
    }

    @Test func anUncheckedPassLoginEndsTheConnectionSayingWhy() {
        var server = ServerHarness(configure: AccountLoginTests.gateway)
        let id = server.connect(loginRequired: true)
        server.send(id, "PASS alice:pw")
        server.send(id, "NICK alice")
        server.send(id, "USER alice 0 * :Alice")
        server.record(server.state.authenticationUnavailable(id, reason: "busy", now: server.now))
        let told = server.inbox(id)
        #expect(told.with("464").first?.contains("could not be checked now: busy") == true)
        #expect(server.closed.contains(id))
    }
}
