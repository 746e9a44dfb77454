import Foundation
import Testing

@testable import IRCServer

/// Failed logins slow down the next ones, per address and per account, exponentially after three; the backend is
/// not even asked while an attempt must wait; a success clears the account's count.
@Suite struct LoginThrottleTests {
    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    static func attempt(_ server: inout ServerHarness, _ id: ClientID, password: String) -> [String] {
        server.send(id, "AUTHENTICATE PLAIN")
        return server.send(id, "AUTHENTICATE " + Self.base64("\0alice\0\(password)"))
    }

    static func checks(_ server: inout ServerHarness) -> Int {
        defer { server.otherActions.removeAll { if case .authenticate = $0 { true } else { false } } }
        return server.otherActions.count { if case .authenticate = $0 { true } else { false } }
    }

    @Test func failuresBackOffExponentiallyAndTheBackendIsNotAskedMeanwhile() {
        var server = ServerHarness()
        let id = server.connect()
        server.send(id, "CAP LS 302")
        server.send(id, "CAP REQ :sasl")
        // Three free failures.
        for _ in 0..<3 {
            #expect(Self.attempt(&server, id, password: "wrong").isEmpty)
            #expect(Self.checks(&server) == 1)
            server.record(server.state.authenticationFinished(id, account: nil))
        }
        // The fourth waits a second: refused at once, without asking the backend.
        let refused = Self.attempt(&server, id, password: "right")
        #expect(refused == [":irc.test 904 * :SASL authentication failed: too many failed attempts; try again in 1 s"])
        #expect(Self.checks(&server) == 0)
        server.advance(1.5)
        #expect(Self.attempt(&server, id, password: "still wrong").isEmpty)
        #expect(Self.checks(&server) == 1)
        server.record(server.state.authenticationFinished(id, account: nil))
        // Now two seconds, from the failure.
        server.advance(1.5)
        #expect(Self.attempt(&server, id, password: "x").first?.contains("try again in 1 s") == true)
        server.advance(1)
        #expect(Self.attempt(&server, id, password: "right").isEmpty)
        #expect(Self.checks(&server) == 1)
        server.record(server.state.authenticationFinished(id, account: "alice"))
        #expect(server.inbox(id).contains { $0.contains(" 903 ") })
    }

    @Test func theAccountIsThrottledFromEveryAddressAndASuccessClearsIt() {
        var throttle = LoginThrottle()
        let start = Date(timeIntervalSince1970: 1_000)
        let alice = LoginThrottle.accountKey("Alice")
        for offset in 0..<3 { throttle.failed([LoginThrottle.addressKey("10.0.0.\(offset)"), alice], at: start) }
        // A fresh address still waits for the account.
        #expect(throttle.wait(for: [LoginThrottle.addressKey("10.0.0.9"), LoginThrottle.accountKey("alice")], now: start) == 1)
        #expect(throttle.wait(for: [LoginThrottle.addressKey("10.0.0.9"), LoginThrottle.accountKey("bob")], now: start) == nil)
        throttle.succeeded(account: "Alice", address: "10.0.0.9")
        #expect(throttle.wait(for: [alice], now: start) == nil)
        // The cap on the back-off.
        for _ in 0..<30 { throttle.failed([alice], at: start) }
        #expect(throttle.wait(for: [alice], now: start) == LoginThrottle.maximumDelay)
    }

    @Test func failuresFromElsewhereDoNotLockTheOwnerOutOfTheirOwnAddresses() {
        var throttle = LoginThrottle()
        let start = Date(timeIntervalSince1970: 1_000)
        throttle.succeeded(account: "alice", address: "192.0.2.1")
        // Someone fails twenty logins to alice from addresses of their own.
        for offset in 0..<20 {
            throttle.failed([LoginThrottle.addressKey("203.0.113.\(offset)"), LoginThrottle.accountKey("alice")], at: start)
        }
        #expect(throttle.wait(address: "198.51.100.7", account: "alice", now: start) != nil)
        // Alice's own address is let through; it still backs off on its own failures.
        #expect(throttle.wait(address: "192.0.2.1", account: "Alice", now: start) == nil)
        for _ in 0..<3 { throttle.failed([LoginThrottle.addressKey("192.0.2.1"), LoginThrottle.accountKey("alice")], at: start) }
        #expect(throttle.wait(address: "192.0.2.1", account: "alice", now: start) == 1)
        // Only the most recent addresses are trusted.
        for offset in 0..<LoginThrottle.trustedAddressesPerAccount {
            throttle.succeeded(account: "bob", address: "10.0.0.\(offset)")
        }
        throttle.succeeded(account: "bob", address: "10.0.1.1")
        for _ in 0..<3 { throttle.failed([LoginThrottle.accountKey("bob")], at: start) }
        #expect(throttle.wait(address: "10.0.0.0", account: "bob", now: start) == 1)
        #expect(throttle.wait(address: "10.0.1.1", account: "bob", now: start) == nil)
    }

    @Test func memoryIsBounded() {
        var throttle = LoginThrottle()
        let start = Date(timeIntervalSince1970: 1_000)
        for index in 0..<(LoginThrottle.maximumEntries + 100) {
            throttle.failed([LoginThrottle.addressKey("host\(index)")], at: start.addingTimeInterval(Double(index)))
        }
        for _ in 0..<3 { throttle.failed([LoginThrottle.addressKey("newest")], at: start.addingTimeInterval(1e6)) }
        #expect(throttle.wait(for: [LoginThrottle.addressKey("newest")], now: start.addingTimeInterval(1e6)) != nil)
        #expect(throttle.entryCount <= LoginThrottle.maximumEntries)
    }
}
