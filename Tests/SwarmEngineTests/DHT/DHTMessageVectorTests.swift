import CompactEncoding
import Sodium
import SwarmEngine
import TestVectors
import Testing

/// dht-rpc's datagrams, node ids and tokens against `hyperdht.json` (made by running dht-rpc 6.26.3's own IO code
/// with fixed tids, node id and token secrets): every datagram decodes to its recorded fields, re-encodes to the same
/// bytes, and the same fields encode to them; ids and tokens match; nothing cut short decodes.
struct DHTMessageVectorTests {
    struct Endpoint: Decodable {
        let host: String
        let port: UInt16
        var value: IPv4Endpoint { IPv4Endpoint(host: host, port: port)! }
    }

    struct Message: Decodable {
        let kind: String
        let name: String
        let tid: UInt16
        let to: Endpoint
        let id: String?
        let token: String?
        let `internal`: Bool?
        let command: UInt64?
        let target: String?
        let value: String?
        let closerNodes: [Endpoint]?
        let error: UInt64?
        let hex: String
    }

    struct NodeID: Decodable {
        let host: String
        let port: UInt16
        let ipv4Address: String
        let id: String
    }

    struct Token: Decodable {
        let secretIndex: Int
        let secret: String
        let host: String
        let token: String
    }

    struct DHTRPC: Decodable {
        let messages: [Message]
        let nodeIds: [NodeID]
        let tokens: [Token]
    }

    struct File: Decodable {
        let dhtRpc: DHTRPC
    }

    static let vectors: DHTRPC = try! ReferenceVectors.load("hyperdht.json", as: File.self).dhtRpc

    static func bytes(_ hex: String?) -> [UInt8]? { hex.map { try! Hex.decode($0) } }

    /// The message the vector's fields describe.
    static func built(_ vector: Message) -> DHTMessage {
        if vector.kind == "request" {
            return .request(
                DHTRequest(
                    tid: vector.tid, to: vector.to.value, id: bytes(vector.id), token: bytes(vector.token),
                    isInternal: vector.internal ?? false, command: vector.command ?? 0, target: bytes(vector.target),
                    value: bytes(vector.value)))
        }
        return .response(
            DHTResponse(
                tid: vector.tid, to: vector.to.value, id: bytes(vector.id), token: bytes(vector.token),
                closerNodes: vector.closerNodes?.map(\.value), error: vector.error ?? 0, value: bytes(vector.value)))
    }

    @Test func everyDatagramDecodesToItsFieldsAndBack() throws {
        #expect(Self.vectors.messages.count == 14)
        for vector in Self.vectors.messages {
            let wire = try Hex.decode(vector.hex)
            let decoded = try DHTMessage(decoding: wire)
            #expect(decoded == Self.built(vector), "\(vector.name)")
            #expect(decoded.encoded() == wire, "\(vector.name)")
            #expect(Self.built(vector).encoded() == wire, "\(vector.name)")
        }
    }

    @Test func nodeIdsAreTheHashOfTheSixByteAddress() throws {
        for vector in Self.vectors.nodeIds {
            let endpoint = try #require(IPv4Endpoint(host: vector.host, port: vector.port))
            #expect(Hex.encode(endpoint.compactEncoded()) == vector.ipv4Address)
            #expect(Hex.encode(DHTNodeID.of(endpoint)) == vector.id)
            #expect(DHTNodeID.validated(try Hex.decode(vector.id), from: endpoint) != nil)
            var elsewhere = endpoint
            elsewhere.port &+= 1
            #expect(DHTNodeID.validated(try Hex.decode(vector.id), from: elsewhere) == nil)
        }
    }

    @Test func tokensAreTheRequestersHostKeyedWithASecretAndRotate() throws {
        let ordered = Self.vectors.tokens.sorted { $0.secretIndex < $1.secretIndex }
        let tokens = DHTTokens(secrets: try ordered.map { try Hex.decode($0.secret) })
        for vector in ordered {
            // The port plays no part.
            let requester = try #require(IPv4Endpoint(host: vector.host, port: 1234))
            #expect(Hex.encode(tokens.token(for: requester, secret: vector.secretIndex)) == vector.token)
            #expect(tokens.accepts(try Hex.decode(vector.token), from: requester))
        }
        // The FIND_NODE reply of the same vectors carries the token under the newer secret.
        let requester = try #require(IPv4Endpoint(host: "192.168.1.30", port: 40000))
        let reply = try #require(Self.vectors.messages.first { $0.kind == "response" && $0.token != nil })
        #expect(Hex.encode(tokens.token(for: requester)) == reply.token)

        // A token handed out now is still good after one rotation (as the older secret), not after two.
        var rotating = tokens
        let handedOut = rotating.token(for: requester)
        for _ in 0..<DHTTokens.ticksPerRotation { rotating.tick() }
        #expect(rotating.accepts(handedOut, from: requester))
        #expect(rotating.token(for: requester) != handedOut)
        for _ in 0..<DHTTokens.ticksPerRotation { rotating.tick() }
        #expect(!rotating.accepts(handedOut, from: requester))
        // Another host's token is not this one's.
        let other = try #require(IPv4Endpoint(host: "192.168.1.31", port: 40000))
        #expect(!tokens.accepts(handedOut, from: other))
    }

    /// Anything cut short is an error, never a crash or a half-read message; bytes after the end are ignored as the
    /// reference ignores them; other first bytes are not dht-rpc.
    @Test func truncatedAndForeignDatagramsAreRefused() throws {
        for vector in Self.vectors.messages {
            let wire = try Hex.decode(vector.hex)
            for length in 0..<wire.count {
                #expect(throws: DHTMessage.DecodeError.self, "\(vector.name) cut at \(length)") {
                    _ = try DHTMessage(decoding: Array(wire.prefix(length)))
                }
            }
            #expect(try DHTMessage(decoding: wire + [0xee, 0xee]) == Self.built(vector))
        }
        for first: UInt8 in [0x00, 0x02, 0x04, 0x23, 0xff] {
            #expect(throws: DHTMessage.DecodeError.notDHT) { _ = try DHTMessage(decoding: [first, 0, 0, 0]) }
        }
        // A closer-node count far beyond the datagram is refused before anything is allocated.
        var huge = try Hex.decode(try #require(Self.vectors.messages.first { $0.closerNodes != nil }).hex)
        let countOffset = 1 + 1 + 2 + 6 + 32 + 32
        huge.replaceSubrange(countOffset..<countOffset + 1, with: [0xfe, 0xff, 0xff, 0xff, 0x7f])
        #expect(throws: DHTMessage.DecodeError.self) { _ = try DHTMessage(decoding: huge) }
    }
}
