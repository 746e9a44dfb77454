import Foundation
import HyperLog
import IRCServer
import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import Testing

@testable import PearBridge

/// The IRC side of the bridge: commands to room requests, room events to IRC events, one rule for each.
@Suite struct IRCAdapterTests {
    static let member = RoomMember(id: "bobid", nick: "bob", writer: Array(repeating: 7, count: 32), identity: Array(repeating: 3, count: 32))

    @Test(arguments: [
        (BackendRequest.joined(channel: "#a", nick: "n"), GatewayRequest.join(room: "#a", nick: "n")),
        (.parted(channel: "#a", nick: "n", reason: "r"), .part(room: "#a", reason: "r")),
        (.message(channel: "#a", nick: "n", kind: .privmsg, text: "\u{1}ACTION waves\u{1}", id: "i", time: Date(timeIntervalSince1970: 5)),
         .say(room: "#a", kind: .action, text: "waves", id: "i", time: Date(timeIntervalSince1970: 5))),
        (.message(channel: "#a", nick: "n", kind: .notice, text: "hey", id: "i", time: Date(timeIntervalSince1970: 5)),
         .say(room: "#a", kind: .notice, text: "hey", id: "i", time: Date(timeIntervalSince1970: 5))),
        (.topic(channel: "#a", nick: "n", topic: "t"), .setTopic(room: "#a", text: "t")),
        (.nickChanged(old: "a", new: "b"), .rename(nick: "b")),
        (.registered(nick: "c"), .rename(nick: "c")),
    ])
    func requests(_ request: BackendRequest, _ expected: GatewayRequest) {
        #expect(GatewayBackend.gatewayRequest(for: request) == expected)
    }

    @Test func privateMessagesAndQuitsAreNotRoomRequests() {
        #expect(GatewayBackend.gatewayRequest(for: .quit(nick: "n", reason: "r")) == nil)
        #expect(GatewayBackend.gatewayRequest(for: .directMessage(
            conversation: "c", sender: "a", recipient: "b", nick: "a", target: "b", kind: .privmsg, text: "x", id: "i", time: Date())) == nil)
    }

    @Test func aLongActionBecomesSeveralWrappedLinesWithDerivedIDs() {
        let text = (0..<120).map { "word\($0)" }.joined(separator: " ") + "\r\nQUIT :x"
        let line = RoomLine(id: "abc", time: Date(), author: Self.member, kind: .action, text: text, isLocal: false)
        let events = GatewayBackend.backendEvents(for: .line(room: "#a", line: line))
        #expect(events.count == 3)
        var rejoined: [String] = []
        for (index, event) in events.enumerated() {
            guard case .remoteMessage(let channel, let userID, .privmsg, let body, let id, _, _) = event else {
                Issue.record("not a message: \(event)")
                continue
            }
            #expect(channel == "#a" && userID == "bobid")
            #expect(id == (index == 0 ? "abc" : "abc.\(index)"))
            #expect(body.hasPrefix("\u{1}ACTION ") && body.hasSuffix("\u{1}"))
            #expect(!body.contains("\r") && !body.contains("\n"))
            #expect(body.utf8.count <= IRCRoomText.lineLimit + 9)
            rejoined.append(String(body.dropFirst(8).dropLast()))
        }
        #expect(rejoined.joined(separator: " ").hasSuffix("word119  QUIT :x"))
    }

    @Test func membersHaveOneHostmaskAndWhoisLines() {
        let user = IRCRoomMember.remoteUser(Self.member, room: "#a")
        #expect(user.host == IRCRoomMember.host(Self.member) && user.host.hasSuffix(".pear"))
        #expect(user.whoisInfo.count == 2 && user.whoisInfo[0].hasPrefix("identity "))
        #expect(IRCRoomMember.mask(Self.member, isLocal: true).hasPrefix("bob!~pear@"))
        let identified = GatewayBackend.backendEvents(for: .memberIdentified(room: "#a", formerID: "old", member: Self.member))
        #expect(identified.count == 2)
        #expect(identified.first == .remoteParted(channel: "#a", userID: "old", reason: "Identified"))
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("a\r\nb\0c", "a  b c"),
        ("\u{1B}[2Jwiped\u{1}VERSION\u{1}\u{7F}", "[2JwipedVERSION"),
        ("\u{2}bold\u{2} \u{3}4red\u{F} \u{1D}it\u{1D}", "\u{2}bold\u{2} \u{3}4red\u{F} \u{1D}it\u{1D}"),
    ])
    func remoteTextIsCleaned(_ text: String, _ expected: String) {
        #expect(IRCRoomText.oneLine(text) == expected)
        #expect(GatewayBackend.backendEvents(for: .topicChanged(room: "#a", memberID: "m", topic: text))
            == [.remoteTopic(channel: "#a", userID: "m", topic: expected)])
    }
}

@Suite struct PearServTests {
    @Test func unknownCommandsSaySoAndHelpDoesNot() async throws {
        let gateway = try await TestGateway.make("pearserv")
        defer { gateway.cleanUp() }
        let service = PearServ(gateway: gateway.gateway, connector: nil)
        let unknown = await service.handle("frobnicate now")
        #expect(unknown.first == "Unknown command \"frobnicate\".")
        #expect(unknown.dropFirst().first == "PearServ commands:")
        #expect(await service.handle("help").first == "PearServ commands:")
        #expect(await service.handle("peers") == ["No peers connected."])
    }

    @Test func aFailedConnectIsExplainedInWords() async throws {
        let gateway = try await TestGateway.make("pearserv-connect")
        defer { gateway.cleanUp() }
        // A port nobody listens on: bound without listening, and kept bound for the test, so that no other test's
        // listener can take it meanwhile (binding and closing a listener let a parallel test reuse the port).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let reserved = try ReservedPort()
        defer { reserved.release() }
        let port = reserved.port
        let transport = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let service = PearServ(gateway: gateway.gateway) { address in
            _ = try await transport.connect(to: address, expectedRemoteKey: nil)
        }
        let answer = await service.handle("connect 127.0.0.1:\(port)")
        #expect(answer == ["Could not connect to 127.0.0.1:\(port): connection refused (no gateway listening on that port)."])
        try await transport.shutdown()
        try await group.shutdownGracefully()
    }

    /// `peers` names each peer by identity, nick, rooms shared, how connected (with its address, not the I/O
    /// library's form) and round-trip time (the kernel's measure on TCP); `rooms` counts each room's peers.
    @Test func peersAreListedByAddressNickAndIdentity() async throws {
        let a = try await TestGateway.make("peers-a"), b = try await TestGateway.make("peers-b")
        defer { a.cleanUp(); b.cleanUp() }
        await a.handle(.joined(channel: "#p", nick: "alice"))
        await b.handle(.joined(channel: "#p", nick: "bob"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let transportA = SwarmTransport(keyPair: a.gateway.identity.keyPair, group: group)
        let transportB = SwarmTransport(keyPair: b.gateway.identity.keyPair, group: group)
        let (_, port) = try await transportB.listen(host: "127.0.0.1", port: 0) { connection in
            Task { await b.gateway.attach(connection) }
        }
        let connection = try await transportA.connect(host: "127.0.0.1", port: port)
        await a.gateway.attach(connection)
        await b.say("#p", "hello", as: "bob")
        try await a.recorder.message("hello")
        let lines = await PearServ(gateway: a.gateway, connector: nil).handle("peers")
        let bobKey = ZBase32.encode(b.gateway.identity.keyPair.publicKey).prefix(12)
        #expect(lines.first == "1 peer(s):" && lines.count == 2)
        let line = lines.last ?? ""
        let expected = "identity \(bobKey)…  bob  rooms shared: #p  TCP (127.0.0.1:\(port))  rtt "
        #expect(line.hasPrefix(expected), "\(line)")
        #expect(line.hasSuffix(" ms") && Int(line.dropFirst(expected.count).dropLast(3)) != nil, "\(line)")
        let rooms = await PearServ(gateway: a.gateway, connector: nil).handle("rooms")
        #expect(rooms == ["1 room(s):", "#p  1 peer  1 other member(s) shown"])
        // The accepting side names the peer by its address too, not as `[IPv4]127.0.0.1/127.0.0.1:55916`.
        let accepted = try #require(await b.gateway.peers.first?.label)
        #expect(accepted.hasPrefix("127.0.0.1:") && !accepted.contains("IPv4"))
        connection.disconnect()
        try await transportA.shutdown()
        try await transportB.shutdown()
        try await group.shutdownGracefully()
    }
}

/// A TCP port bound on 127.0.0.1 without listening: connecting to it is refused, and nothing else can bind it while
/// it is held.
struct ReservedPort {
    let descriptor: Int32
    let port: Int

    struct Failure: Error {}

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure() }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard bound == 0, named == 0 else {
            close(descriptor)
            throw Failure()
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func release() { close(descriptor) }
}
