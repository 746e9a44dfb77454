import CompactEncoding
import SwarmEngine
import TestVectors
import Testing

/// How our node answers dht-rpc's own commands, checked against the replies of `hyperdht.json` where the vector's
/// generator replied as the real node does (PING, DOWN_HINT, an UNKNOWN_COMMAND error with closer nodes), and against
/// dht-rpc 6.26's `index.js` for the rest: FIND_NODE is answered without a token and PING_NAT at the port the
/// requester names (the vectors' FIND_NODE and PING_NAT replies were made by calling the IO layer's generic reply,
/// which adds a token and answers the source port).
struct DHTRPCResponderTests {
    static let vectors = DHTMessageVectorTests.vectors
    static let requester = IPv4Endpoint(host: "192.168.1.30", port: 40000)!
    static let ourID = try! Hex.decode("d1dcf835b0d62b9230c41393cb96a34f5f8b9f814f421ca3382dfc1678022e0e")

    static func context(persistent: Bool = true, nodes: [IPv4Endpoint] = []) -> DHTRPCResponder.Context {
        let secrets = DHTMessageVectorTests.vectors.tokens.sorted { $0.secretIndex < $1.secretIndex }
            .map { try! Hex.decode($0.secret) }
        var table = DHTRoutingTable(id: ourID)
        for node in nodes { _ = table.add(DHTContact(id: DHTNodeID.of(node), endpoint: node)) }
        return DHTRPCResponder.Context(
            id: ourID, isPersistent: persistent, onServerSocket: true, tokens: DHTTokens(secrets: secrets), table: table)
    }

    static func request(_ tid: Int) throws -> DHTRequest {
        let vector = try #require(vectors.messages.first { $0.kind == "request" && $0.tid == tid })
        guard case .request(let request) = try DHTMessage(decoding: try Hex.decode(vector.hex)) else {
            throw DHTMessage.DecodeError.notDHT
        }
        return request
    }

    static func recordedReply(_ name: String) throws -> [UInt8] {
        try Hex.decode(try #require(vectors.messages.first { $0.kind == "response" && $0.name.hasPrefix(name) }).hex)
    }

    static func replies(_ effects: [DHTRPCResponder.Effect]) -> [(DHTResponse, IPv4Endpoint)] {
        effects.compactMap {
            guard case .reply(let bytes, let to) = $0, case .response(let response)? = try? DHTMessage(decoding: bytes)
            else { return nil }
            return (response, to)
        }
    }

    @Test func pingAndDownHintAreAnsweredAsRecorded() throws {
        let ping = DHTRPCResponder.respond(to: try Self.request(2), from: Self.requester, context: Self.context())
        // The recorded reply answers tid 1 (the ephemeral PING); ours to tid 2 differs only there.
        var expected = try Self.recordedReply("reply to PING from")
        expected[2] = 2
        #expect(ping == [.reply(expected, to: Self.requester)])

        let downed = IPv4Endpoint(host: "10.0.0.1", port: 1000)!
        let hint = try Self.request(5)
        #expect(
            DHTRPCResponder.respond(to: hint, from: Self.requester, context: Self.context())
                == [.reply(try Self.recordedReply("reply to DOWN_HINT"), to: Self.requester)])
        // When we hold the node it names, we check on it too.
        let holding = DHTRPCResponder.respond(to: hint, from: Self.requester, context: Self.context(nodes: [downed]))
        #expect(holding.first == .check(DHTNodeID.of(downed)))
        #expect(holding.count == 2)
    }

    @Test func anUnknownCommandGetsTheRecordedErrorWithCloserNodes() throws {
        let lookup = try Self.request(7)
        let nodes = [IPv4Endpoint(host: "10.0.0.1", port: 1000)!, IPv4Endpoint(host: "10.0.0.2", port: 2000)!]
        let context = Self.context(nodes: nodes)
        #expect(DHTRPCResponder.respond(to: lookup, from: Self.requester, context: context) == [.application])
        let error = DHTRPCResponder.reply(
            to: lookup, error: DHTRPCResponder.unknownCommand, closerNodes: true, to: Self.requester, context: context)
        let recorded = try Self.recordedReply("error reply")
        guard case .response(let ours) = try DHTMessage(decoding: error),
            case .response(let theirs) = try DHTMessage(decoding: recorded)
        else { throw DHTMessage.DecodeError.notDHT }
        #expect(Set(ours.closerNodes ?? []) == Set(theirs.closerNodes ?? []))
        var sameOrder = ours
        sameOrder.closerNodes = theirs.closerNodes
        #expect(DHTMessage.response(sameOrder).encoded() == recorded)
        // Internal but unknown: the same error, from the responder itself.
        var strange = lookup
        strange.isInternal = true
        strange.command = 99
        let answered = Self.replies(DHTRPCResponder.respond(to: strange, from: Self.requester, context: context))
        #expect(answered.first?.0.error == DHTRPCResponder.unknownCommand && answered.first?.0.closerNodes != nil)
    }

    @Test func findNodePingNATAndDelayedPingFollowTheNode() throws {
        let nodes = (1...30).map { IPv4Endpoint(address: 0x0a00_0000 + UInt32($0), port: 1000) }
        let context = Self.context(nodes: nodes)
        let findNode = Self.replies(DHTRPCResponder.respond(to: try Self.request(4), from: Self.requester, context: context))
        #expect(findNode.count == 1)
        #expect(findNode[0].0.id == Self.ourID && findNode[0].0.token == nil)
        #expect(findNode[0].0.closerNodes?.count == 20)
        #expect(findNode[0].0.to == Self.requester && findNode[0].1 == Self.requester)

        // PING_NAT answers at the port the requester named (49737), and says so in `to`.
        let pingNAT = Self.replies(DHTRPCResponder.respond(to: try Self.request(3), from: Self.requester, context: context))
        let otherSocket = IPv4Endpoint(host: "192.168.1.30", port: 49737)!
        #expect(pingNAT.count == 1 && pingNAT[0].1 == otherSocket && pingNAT[0].0.to == otherSocket)
        var zeroPort = try Self.request(3)
        zeroPort.value = [0, 0]
        #expect(DHTRPCResponder.respond(to: zeroPort, from: Self.requester, context: context).isEmpty)
        zeroPort.value = [1]
        #expect(DHTRPCResponder.respond(to: zeroPort, from: Self.requester, context: context).isEmpty)

        let delayed = DHTRPCResponder.respond(to: try Self.request(6), from: Self.requester, context: context)
        guard case .delayedReply(_, let to, let delay)? = delayed.first else {
            Issue.record("no delayed reply: \(delayed)")
            return
        }
        #expect(to == Self.requester && delay == 500)
        var tooLong = try Self.request(6)
        tooLong.value = [0x11, 0x27, 0, 0]  // 10,001 ms
        #expect(DHTRPCResponder.respond(to: tooLong, from: Self.requester, context: context).isEmpty)
    }

    @Test func aForeignTokenIsRefusedAndAnEphemeralNodeSendsNoID() throws {
        var announce = try Self.request(65535)
        let context = Self.context()
        let refused = Self.replies(DHTRPCResponder.respond(to: announce, from: Self.requester, context: context))
        #expect(refused.count == 1)
        #expect(refused[0].0.error == DHTRPCResponder.invalidToken)
        #expect(refused[0].0.token == context.tokens.token(for: Self.requester))
        // With the token we handed out, the request reaches the application.
        announce.token = context.tokens.token(for: Self.requester)
        #expect(DHTRPCResponder.respond(to: announce, from: Self.requester, context: context) == [.application])

        let ephemeral = Self.replies(
            DHTRPCResponder.respond(to: try Self.request(1), from: Self.requester, context: Self.context(persistent: false)))
        #expect(ephemeral.count == 1 && ephemeral[0].0.id == nil)
    }
}
