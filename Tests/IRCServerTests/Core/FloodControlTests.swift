import Foundation
import IRCServer
import Testing

@Suite struct FloodControlTests {
    static func configure(_ configuration: inout IRCServerConfiguration) {
        configuration.floodBurst = 3
        configuration.floodRate = 1
        configuration.floodQueueLength = 2
    }

    @Test func linesBeyondTheBurstWaitForTokens() {
        var server = ServerHarness(configure: Self.configure)
        let alice = server.register("alice")
        let id = server.connect(host: "192.0.2.7")
        server.send(id, "NICK bob")
        server.send(id, "USER bob 0 * :Bob")
        server.send(id, "JOIN #c")  // the third token
        #expect(server.send(id, "PRIVMSG alice :one").isEmpty)
        #expect(server.inbox(alice).isEmpty, "held: the bucket is empty")
        server.advance(1)
        server.record(server.state.tick(now: server.now))
        #expect(server.inbox(alice) == [":bob!~bob@192.0.2.7 PRIVMSG alice one"])
    }

    @Test func aClientThatKeepsFloodingIsDisconnected() {
        var server = ServerHarness(configure: Self.configure)
        let id = server.connect(host: "192.0.2.7")
        for index in 0..<5 { server.send(id, "PING :\(index)") }
        #expect(!server.closed.contains(id))
        let last = server.send(id, "PING :5")
        #expect(last == ["ERROR :Closing Link: 192.0.2.7 (Excess Flood)"])
        #expect(server.closed.contains(id))
    }

    @Test func loopbackIsExemptWhenConfigured() {
        var server = ServerHarness(configure: Self.configure)
        let id = server.register("alice")
        for index in 0..<20 { #expect(server.send(id, "PING :\(index)").count == 1) }
        var strict = ServerHarness {
            Self.configure(&$0)
            $0.floodExemptLoopback = false
        }
        let local = strict.connect()
        for index in 0..<5 { strict.send(local, "PING :\(index)") }
        #expect(strict.send(local, "PING :x").first?.contains("Excess Flood") == true)
    }
}
