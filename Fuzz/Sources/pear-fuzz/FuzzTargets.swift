import CompactEncoding
import Foundation
import HyperLog
import IRCServer
import PearBridge
import Sodium
import SwarmEngine

/// One harness per decoder of untrusted bytes. Each must never crash, hang or grow without bound on any input; where
/// a decoded value can be encoded again, the round trip must give the same value back.
enum FuzzTarget: String, CaseIterable {
    case ircLine = "irc-line"
    case roomEntry = "room-entry"
    case roomWire = "room-wire"
    case replicationMessage = "replication-message"
    case proof = "proof"
    case protomux = "protomux"
    case secretStreamHandshake = "secret-stream-handshake"
    case secretStreamFrames = "secret-stream-frames"
    case udxPacket = "udx-packet"
    case udxStream = "udx-stream"
    case dhtMessage = "dht-message"
    case sealedEntry = "sealed-entry"
    case roomInvite = "room-invite"
    case peopleHello = "people-hello"

    /// The fixed key and writer the sealed-entry target opens with (its seeds are sealed with them).
    static let sealKey = Array(UInt8(0)..<32)
    static let sealWriter = Array(UInt8(32)..<64)

    func run(_ bytes: [UInt8]) {
        switch self {
        case .ircLine:
            guard let message = try? IRCMessageParser.parse(bytes) else { return }
            if let encoded = try? IRCMessageEncoder.encode(message) {
                // What we would send must parse back (without its CR LF) to the same message.
                let again = try? IRCMessageParser.parse(encoded.dropLast(2))
                precondition(again == message, "IRC line round trip changed \(message)")
            }
        case .roomEntry:
            guard case .entry(let entry)? = try? RoomEntry.decode(bytes) else { return }
            guard case .entry(let again)? = try? RoomEntry.decode(entry.encoded()) else {
                preconditionFailure("a decoded room entry did not decode after encoding")
            }
            precondition(again == entry, "room entry round trip changed \(entry)")
        case .roomWire:
            var reader = CompactReader(bytes)
            _ = try? RoomWire.Hello(from: &reader)
            reader = CompactReader(bytes)
            _ = try? RoomWire.Writers(from: &reader)
        case .replicationMessage:
            guard let type = bytes.first else { return }
            guard let message = try? ReplicationMessage(type: UInt64(type), bytes: Array(bytes.dropFirst())) else { return }
            // Strings decode as the reference does (invalid UTF-8 replaced), so the first round trip may normalise;
            // from then on it must be stable.
            guard let normalised = try? ReplicationMessage(type: message.type, bytes: message.encoded()) else {
                preconditionFailure("a decoded replication message did not decode after encoding: \(message)")
            }
            let again = try? ReplicationMessage(type: normalised.type, bytes: normalised.encoded())
            precondition(again == normalised, "replication message round trip changed \(normalised)")
            var reader = CompactReader(Array(bytes.dropFirst()))
            _ = try? ReplicationHandshake(from: &reader)
        case .proof:
            // A proof for a known 16-block log, as a peer would send it: verification may fail, never trap.
            guard case .data(let data)? = try? ReplicationMessage(type: 3, bytes: bytes) else { return }
            _ = try? Fixture.verifier.verify(data)
        case .udxPacket:
            guard let packet = try? UDXPacket(decoding: bytes) else { return }
            precondition(packet.encoded() == bytes, "UDX packet round trip changed the bytes")
            precondition(packet.sackBlocks.count <= bytes.count / 8, "more SACK blocks than the body holds")
            _ = packet.payload.readableBytes
        case .udxStream:
            // Records of [kind][length][bytes]: a datagram for the stream, time passing, a write, or a read. A small
            // window, so the bounds are reached.
            var configuration = UDXStreamState.Configuration()
            configuration.receiveWindow = 16 * 1024
            configuration.sendBufferLimit = 16 * 1024
            configuration.sendBufferLowWater = 4 * 1024
            var stream = UDXStreamState(localID: 1, remoteID: 2, configuration: configuration, now: 1_000)
            var now: UInt64 = 1_000
            var rest = bytes[...]
            while rest.count >= 2 {
                let kind = rest[rest.startIndex] % 4
                let length = Int(rest[rest.startIndex + 1])
                let body = Array(rest.dropFirst(2).prefix(length))
                rest = rest.dropFirst(2 + body.count)
                switch kind {
                case 0:
                    // The record's bytes after a header of ours, so that most inputs reach the stream's logic.
                    var datagram: [UInt8] = [0xff, 1] + body.prefix(2) + [1, 0, 0, 0]
                    datagram += body.dropFirst(2)
                    guard let packet = try? UDXPacket(decoding: datagram) else { continue }
                    _ = stream.receive(packet, now: now)
                case 1:
                    now += UInt64(length) * 37
                    if let deadline = stream.nextDeadline, deadline <= now { _ = stream.timeout(now: now) }
                case 2:
                    try? stream.write(body)
                    _ = stream.flush(now: now)
                default:
                    _ = stream.read(length * 64)
                }
                precondition(stream.bufferedReceiveBytes <= stream.receiveBufferLimit, "receive buffer past its bound")
                precondition(stream.bufferedSendBytes <= configuration.sendBufferLimit, "send buffer past its bound")
            }
        case .sealedEntry:
            // A block of a direct conversation or private room: opening never traps; what opens is a room entry or
            // skipped; and whatever is sealed opens back to itself (with the writer bound in: not for another).
            if let plain = try? SealedEntry.open(bytes, key: Self.sealKey, writer: Self.sealWriter) {
                _ = try? RoomEntry.decode(plain)
            }
            guard let sealed = try? SealedEntry.seal(bytes, key: Self.sealKey, writer: Self.sealWriter) else {
                preconditionFailure("sealing with a 32-byte key failed")
            }
            precondition((try? SealedEntry.open(sealed, key: Self.sealKey, writer: Self.sealWriter)) == bytes, "seal/open round trip")
            precondition((try? SealedEntry.open(sealed, key: Self.sealKey, writer: Self.sealKey)) == nil, "opened for another writer")
        case .peopleHello:
            // A peer's `pearirc/people/v1` hello: decoding and checking its proofs never trap; what decodes encodes back
            // to a hello that decodes the same.
            guard let hello = try? PeopleWire.Hello(compactEncoded: bytes) else { return }
            precondition((try? PeopleWire.Hello(compactEncoded: hello.compactEncoded())) == hello, "people hello round trip changed")
            _ = PeopleWire.verify(hello, handshakeHash: Self.sealKey, weAreInitiator: bytes.count % 2 == 0)
        case .roomInvite:
            // A pasted invite: parsing never traps, and a parsed invite prints to one that parses to the same.
            guard let invite = try? RoomInvite(parsing: String(decoding: bytes, as: UTF8.self)) else { return }
            precondition((try? RoomInvite(parsing: invite.description)) == invite, "invite round trip changed \(invite)")
        case .dhtMessage:
            // A dht-rpc datagram, or (first byte 0x40 + n) a HyperDHT record of kind n (10, 11: blind-relay's pair and
            // unpair): decoding never traps, and
            // what decodes encodes stably.
            if let message = try? DHTMessage(decoding: bytes) {
                let encoded = message.encoded()
                precondition((try? DHTMessage(decoding: encoded))?.encoded() == encoded, "DHT message encoding is not stable")
            }
            guard let first = bytes.first, first >= 0x40 else { return }
            let rest = Array(bytes.dropFirst())
            switch first & 0x0f {
            case 0: Self.roundTrip(HyperDHTHandshake.self, rest)
            case 1: Self.roundTrip(HyperDHTHolepunch.self, rest)
            case 2: Self.roundTrip(HyperDHTNoisePayload.self, rest)
            case 3: Self.roundTrip(HyperDHTHolepunchPayload.self, rest)
            case 4: Self.roundTrip(HyperDHTPeer.self, rest)
            case 5: Self.roundTrip(HyperDHTPeers.self, rest)
            case 6: Self.roundTrip(HyperDHTLookupReply.self, rest)
            case 7: Self.roundTrip(HyperDHTAnnounce.self, rest)
            case 8: Self.roundTrip(HyperDHTMutablePut.self, rest)
            case 10: Self.roundTrip(BlindRelayPair.self, rest)
            case 11: Self.roundTrip(BlindRelayUnpair.self, rest)
            default: Self.roundTrip(HyperDHTMutableRecord.self, rest)
            }
        case .protomux:
            var session = ProtomuxSession(maximumRemoteChannels: 64, maximumBufferedBytes: 1 << 20)
            // Split where the input says, so frame boundaries vary too.
            var rest = bytes[...]
            while !rest.isEmpty {
                let cut = Int(rest.first!) % 64 + 1
                guard (try? session.receive(Array(rest.prefix(cut)))) != nil else { return }
                rest = rest.dropFirst(cut)
            }
        case .secretStreamHandshake:
            guard var session = try? SecretStreamSession(isInitiator: false, staticKeyPair: Fixture.keyPair) else { return }
            _ = try? session.receive(bytes)
        case .secretStreamFrames:
            var session = SecretStreamSession(isInitiator: false, handshake: Fixture.handshake)
            _ = try? session.start()
            _ = try? session.receive(bytes)
        }
    }
}

/// Fixed material the harnesses check against (made once per process, deterministic).
extension FuzzTarget {
    /// Decoding never traps, and what decodes encodes to bytes that are stable: decoding them and encoding again
    /// gives them back (the first encoding may normalise what the reference normalises too: versions written as 1,
    /// empty lists left out).
    static func roundTrip<T: CompactCodable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) {
        guard let value = try? T(leniently: bytes) else { return }
        let encoded = value.compactEncoded()
        guard let again = try? T(leniently: encoded) else { preconditionFailure("\(T.self): own encoding does not decode") }
        precondition(again.compactEncoded() == encoded, "\(T.self) encoding is not stable")
    }
}

enum Fixture {
    static let keyPair = try! Ed25519.keyPair(seed: [UInt8](repeating: 7, count: 32))
    static let handshake = NoiseHandshake.Result(
        transmitKey: [UInt8](repeating: 1, count: 32), receiveKey: [UInt8](repeating: 2, count: 32),
        handshakeHash: [UInt8](repeating: 3, count: 64), remoteStaticKey: [UInt8](repeating: 4, count: 32))
    // Read-only after it is made, and libFuzzer runs one input at a time.
    nonisolated(unsafe) static let verifier: ProofVerifier = {
        let manifest = Manifest.singleSigner(publicKey: keyPair.publicKey)
        var tree = MerkleTree()
        let nodes = tree.append((0..<16).map { [UInt8](repeating: UInt8($0), count: 10 + $0) })
        let known = Dictionary(nodes.map { ($0.index, $0) }, uniquingKeysWith: { $1 })
        return ProofVerifier(
            key: manifest.key, manifest: manifest, length: tree.length, fork: 0, roots: tree.roots,
            localNode: { known[$0] })
    }()
}

/// The harness libFuzzer calls; `PEAR_FUZZ_TARGET` names the decoder (see `FuzzTarget`).
let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["PEAR_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set PEAR_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
