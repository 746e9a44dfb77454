import CompactEncoding
import HyperLog
import Sodium

/// The `pearirc/people/v1` protomux channel: who a gateway speaks for, proven on each connection. A gateway's
/// connections run under a transport key of its own (`transport.key`), not under its people's identities, so each
/// side opens this channel once per connection (no id) with one proof per person it hosts: the identity and its
/// Ed25519 signature over `"pearirc/people/v1" ‖ handshake hash ‖ side ‖ identity`. The handshake hash binds a proof to
/// this one connection (a proof seen elsewhere is worthless here), the side byte (1 from the connection's initiator, 0
/// from the responder) keeps a peer from reflecting our own proofs back at us. Whatever needs "this connection reaches
/// that person" (a direct conversation's channel, presence, `isConnected`) asks for a proven person, never the
/// transport key. No messages. A peer that does not speak it (a Node hypercore peer) rejects the open; it proves no one.
public enum PeopleWire {
    public static let protocolName = "pearirc/people/v1"
    /// Most people one gateway proves on a connection (one per account it hosts): a household's or a team's, with room
    /// to spare; each costs the receiver a signature check and a key exchange.
    public static let maximumPeople = 64

    public struct Proof: Hashable, Sendable {
        public var identity: [UInt8]
        public var signature: [UInt8]
    }

    /// The channel's open handshake: `array(fixed32 identity, fixed64 signature)`.
    public struct Hello: Hashable, Sendable, CompactCodable {
        public var proofs: [Proof]

        public init(proofs: [Proof]) { self.proofs = proofs }

        public func encode<W: CompactWriter>(to writer: inout W) {
            writer.writeArray(proofs) { writer, proof in
                writer.writeFixed(proof.identity, length: 32)
                writer.writeFixed(proof.signature, length: 64)
            }
        }

        public init(from reader: inout CompactReader) throws(CompactEncodingError) {
            proofs = try reader.readArray(minimumElementSize: 96, limit: PeopleWire.maximumPeople) {
                (r: inout CompactReader) throws(CompactEncodingError) in
                Proof(identity: try r.readFixed(length: 32), signature: try r.readFixed(length: 64))
            }
        }
    }

    /// The DHT topic a person's gateway announces (for each person it hosts) and others look up to reach them: their
    /// connection's key is the gateway's transport key, which says nothing of who is behind it.
    public static func discoveryTopic(of identity: [UInt8]) -> [UInt8] {
        BLAKE2b.hash256(Array("pearirc/person/v1".utf8) + identity)
    }

    /// What a proof signs.
    static func signed(identity: [UInt8], handshakeHash: [UInt8], fromInitiator: Bool) -> [UInt8] {
        Array(protocolName.utf8) + handshakeHash + [fromInitiator ? 1 : 0] + identity
    }

    /// Our hello on a connection: a proof for each of our people.
    public static func hello(people: [Ed25519.KeyPair], handshakeHash: [UInt8], weAreInitiator: Bool) -> Hello {
        Hello(proofs: people.map { person in
            Proof(
                identity: person.publicKey,
                signature: Ed25519.sign(signed(identity: person.publicKey, handshakeHash: handshakeHash, fromInitiator: weAreInitiator), keyPair: person))
        })
    }

    /// The people a peer's hello proves on this connection; nil when any proof is false (the peer is lying or broken).
    public static func verify(_ hello: Hello, handshakeHash: [UInt8], weAreInitiator: Bool) -> [[UInt8]]? {
        var people: [[UInt8]] = []
        for proof in hello.proofs {
            let message = signed(identity: proof.identity, handshakeHash: handshakeHash, fromInitiator: !weAreInitiator)
            guard Ed25519.verify(signature: proof.signature, message: message, publicKey: proof.identity) else { return nil }
            people.append(proof.identity)
        }
        return people
    }
}
