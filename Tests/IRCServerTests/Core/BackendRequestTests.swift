import Foundation
import IRCServer
import Testing

@Suite struct BackendRequestTests {
    /// A finished registration tells the backend the client's nick (the gateway shows its user under the nick of the
    /// client most recently registered or renamed), once, after 001.
    @Test func registrationTellsTheBackendTheNick() {
        var server = ServerHarness()
        _ = server.register("annjmtr")
        let registered = server.backendRequests.filter { if case .registered = $0 { true } else { false } }
        #expect(registered == [.registered(nick: "annjmtr")])
    }
}
