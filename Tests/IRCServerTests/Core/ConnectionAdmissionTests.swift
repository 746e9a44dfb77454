import Foundation
import IRCServer
import Testing

/// Connections that never register cannot lock others out, and one remote address cannot take every slot.
@Suite struct ConnectionAdmissionTests {
    @Test func theOldestUnregisteredConnectionMakesRoom() throws {
        var server = ServerHarness {
            $0.maximumUnregisteredConnections = 3
            $0.maximumConnections = 5
        }
        let registered = server.register("alice")
        var waiting: [ClientID] = []
        for _ in 0..<3 {
            let arrived = server.arrive(host: "127.0.0.1")
            waiting.append(try #require(arrived))
            server.advance(1)
        }
        // A fourth one: the oldest still registering is told why and closed; the registered client stays.
        let arrived = server.arrive(host: "127.0.0.1")
        let fourth = try #require(arrived)
        #expect(server.closed == [waiting[0]])
        #expect(server.inbox(waiting[0]).last?.hasPrefix("ERROR :Closing Link: 127.0.0.1 (Registration took too long") == true)
        #expect(!server.closed.contains(registered))
        // The newcomer registers normally.
        server.send(fourth, "NICK bob")
        #expect(server.send(fourth, "USER bob 0 * :Bob").contains { $0.contains(" 001 bob ") })
    }

    @Test func aFullServerWithEveryoneRegisteredRefuses() throws {
        var server = ServerHarness { $0.maximumConnections = 2 }
        _ = server.register("alice")
        _ = server.register("bob")
        #expect(server.state.admission(forHost: "127.0.0.1", now: server.now).0 == .refuse("Too many connections"))
    }

    @Test func oneRemoteAddressHasACapButLoopbackDoesNot() throws {
        var server = ServerHarness { $0.maximumConnectionsPerAddress = 2 }
        #expect(server.arrive(host: "203.0.113.5") != nil)
        #expect(server.arrive(host: "203.0.113.5") != nil)
        #expect(server.state.admission(forHost: "203.0.113.5", now: server.now).0 == .refuse("Too many connections from your address"))
        #expect(server.arrive(host: "203.0.113.6") != nil)
        for _ in 0..<3 { #expect(server.arrive(host: "127.0.0.1") != nil) }
    }
}
