import CompactEncoding
import Foundation
import Sodium
@testable import SwarmEngine
import TestVectors
import Testing

/// HyperDHT's records and relay messages against `hyperdht.json` `messages[]` (every encoder of hyperdht 6.33's
/// `lib/messages.js`, as value and hex): each hex decodes to the recorded value and the value encodes to the hex;
/// the announce, unannounce and mutable signables and signatures match `signatures`, made by hyperdht's own code.
struct HyperDHTMessageVectorTests {
    // Read once and never written: the JSON tree of the vector file.
    nonisolated(unsafe) static let file: [String: Any] = {
        let data = try! ReferenceVectors.data("hyperdht.json")
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static func entries(_ name: String) -> [(value: Any, hex: [UInt8])] {
        (file["messages"] as! [[String: Any]]).filter { ($0["message"] as! String).hasPrefix(name) }
            .map { ($0["value"]!, try! Hex.decode($0["hex"] as! String)) }
    }

    static func endpoint(_ object: Any?) -> IPv4Endpoint? {
        guard let object = object as? [String: Any] else { return nil }
        return IPv4Endpoint(host: object["host"] as! String, port: UInt16(object["port"] as! Int))
    }

    static func endpoints(_ object: Any?) -> [IPv4Endpoint]? {
        (object as? [Any])?.map { endpoint($0)! }
    }

    static func bytes(_ object: Any?) -> [UInt8]? {
        (object as? String).map { try! Hex.decode($0) }
    }

    static func uint(_ object: Any?) -> UInt64 { UInt64(object as? Int ?? 0) }

    static func peer(_ object: Any?) -> HyperDHTPeer? {
        guard let object = object as? [String: Any] else { return nil }
        return HyperDHTPeer(publicKey: bytes(object["publicKey"])!, relayAddresses: endpoints(object["relayAddresses"])!)
    }

    /// Decodes `hex` as `T`, checks it equals `expected`, and that `expected` encodes to `hex`.
    static func check<T: CompactCodable & Equatable>(_ expected: T, _ hex: [UInt8], _ name: String) throws {
        #expect(try T(leniently: hex) == expected, "\(name)")
        #expect(expected.compactEncoded() == hex, "\(name)")
    }

    @Test func relayMessagesMatchTheReference() throws {
        let handshakes = Self.entries("handshake")
        #expect(handshakes.count == 2)
        for (value, hex) in handshakes {
            let value = value as! [String: Any]
            try Self.check(
                HyperDHTHandshake(
                    mode: Self.uint(value["mode"]), noise: Self.bytes(value["noise"])!,
                    peerAddress: Self.endpoint(value["peerAddress"]), relayAddress: Self.endpoint(value["relayAddress"])),
                hex, "handshake")
        }
        // "holepunch" entries, not "holepunchPayload" ones: those carry a payload buffer.
        let holepunches = Self.entries("holepunch").filter { ($0.value as? [String: Any])?["payload"] != nil }
        #expect(holepunches.count == 1)
        for (value, hex) in holepunches {
            let value = value as! [String: Any]
            try Self.check(
                HyperDHTHolepunch(
                    mode: Self.uint(value["mode"]), id: Self.uint(value["id"]), payload: Self.bytes(value["payload"])!,
                    peerAddress: Self.endpoint(value["peerAddress"])),
                hex, "holepunch")
        }
    }

    @Test func noiseAndHolepunchPayloadsMatchTheReference() throws {
        let payloads = Self.entries("noisePayload")
        #expect(payloads.count == 2)
        for (value, hex) in payloads {
            let value = value as! [String: Any]
            let holepunch = (value["holepunch"] as? [String: Any]).map { info in
                HyperDHTNoisePayload.Holepunch(
                    id: Self.uint(info["id"]),
                    relays: (info["relays"] as! [[String: Any]]).map {
                        (Self.endpoint($0["relayAddress"])!, Self.endpoint($0["peerAddress"])!)
                    })
            }
            let udx = (value["udx"] as? [String: Any]).map {
                HyperDHTNoisePayload.UDX(
                    version: Self.uint($0["version"]), reusableSocket: $0["reusableSocket"] as! Bool,
                    id: Self.uint($0["id"]), seq: Self.uint($0["seq"]))
            }
            let relayThrough = (value["relayThrough"] as? [String: Any]).map {
                HyperDHTNoisePayload.RelayThrough(
                    version: Self.uint($0["version"]), publicKey: Self.bytes($0["publicKey"])!,
                    token: Self.bytes($0["token"])!)
            }
            let addresses6 = (value["addresses6"] as! [[String: Any]]).map {
                IPv6Endpoint(host: $0["host"] as! String, port: UInt16($0["port"] as! Int))!
            }
            try Self.check(
                HyperDHTNoisePayload(
                    version: Self.uint(value["version"]), error: Self.uint(value["error"]),
                    firewall: Self.uint(value["firewall"]), holepunch: holepunch,
                    addresses4: Self.endpoints(value["addresses4"]) ?? [], addresses6: addresses6, udx: udx,
                    secretStreamVersion: (value["secretStream"] as? [String: Any]).map { Self.uint($0["version"]) },
                    relayThrough: relayThrough, relayAddresses: Self.endpoints(value["relayAddresses"])),
                hex, "noisePayload")
        }
        // Another version is read no further: the rest is not parsed, so garbage after it is no error.
        let future = try HyperDHTNoisePayload(leniently: [2, 0xff, 0xff])
        #expect(future.version == 2 && future.udx == nil)

        let punches = Self.entries("holepunchPayload")
        #expect(punches.count == 2)
        for (value, hex) in punches {
            let value = value as! [String: Any]
            try Self.check(
                HyperDHTHolepunchPayload(
                    error: Self.uint(value["error"]), firewall: Self.uint(value["firewall"]),
                    round: Self.uint(value["round"]), connected: value["connected"] as! Bool,
                    punching: value["punching"] as! Bool, addresses: Self.endpoints(value["addresses"]),
                    remoteAddress: Self.endpoint(value["remoteAddress"]), token: Self.bytes(value["token"]),
                    remoteToken: Self.bytes(value["remoteToken"])),
                hex, "holepunchPayload")
        }
    }

    @Test func recordsMatchTheReference() throws {
        let (peerValue, peerHex) = try #require(Self.entries("peer").first { !($0.value is [Any]) })
        try Self.check(Self.peer(peerValue)!, peerHex, "peer")
        let (peersValue, peersHex) = try #require(Self.entries("peers").first)
        try Self.check(HyperDHTPeers((peersValue as! [Any]).map { Self.peer($0)! }), peersHex, "peers")

        let (lookupValue, lookupHex) = try #require(Self.entries("lookupRawReply").first)
        let lookup = lookupValue as! [String: Any]
        let rawPeers = (lookup["peers"] as! [String]).map { try! HyperDHTPeer(leniently: Hex.decode($0)) }
        try Self.check(HyperDHTLookupReply(peers: rawPeers, bump: Self.uint(lookup["bump"])), lookupHex, "lookupRawReply")
        // A reply from an older node, without the bump, reads as bump 0.
        #expect(try HyperDHTLookupReply(leniently: Array(lookupHex.dropLast())).bump == 0)

        let announces = Self.entries("announce")
        #expect(announces.count == 2)
        for (value, hex) in announces {
            let value = value as! [String: Any]
            try Self.check(
                HyperDHTAnnounce(
                    peer: Self.peer(value["peer"]), refresh: Self.bytes(value["refresh"]),
                    signature: Self.bytes(value["signature"]), bump: Self.uint(value["bump"])),
                hex, "announce")
        }

        let (signableValue, signableHex) = try #require(Self.entries("mutableSignable").first)
        let signable = signableValue as! [String: Any]
        try Self.check(
            HyperDHTMutableSignable(seq: Self.uint(signable["seq"]), value: Self.bytes(signable["value"])!), signableHex,
            "mutableSignable")
        let (putValue, putHex) = try #require(Self.entries("mutablePutRequest").first)
        let put = putValue as! [String: Any]
        try Self.check(
            HyperDHTMutablePut(
                publicKey: Self.bytes(put["publicKey"])!, seq: Self.uint(put["seq"]), value: Self.bytes(put["value"])!,
                signature: Self.bytes(put["signature"])!),
            putHex, "mutablePutRequest")
        let (getValue, getHex) = try #require(Self.entries("mutableGetResponse").first)
        let get = getValue as! [String: Any]
        try Self.check(
            HyperDHTMutableRecord(
                seq: Self.uint(get["seq"]), value: Self.bytes(get["value"])!, signature: Self.bytes(get["signature"])!),
            getHex, "mutableGetResponse")
    }

    @Test func namespacesAndSignaturesMatchTheReference() throws {
        let constants = (Self.file["constants"] as! [String: Any])["NS"] as! [String: String]
        #expect(Hex.encode(HyperDHTSignatures.announceNamespace) == constants["ANNOUNCE"])
        #expect(Hex.encode(HyperDHTSignatures.unannounceNamespace) == constants["UNANNOUNCE"])
        #expect(Hex.encode(HyperDHTSignatures.mutablePutNamespace) == constants["MUTABLE_PUT"])
        #expect(Hex.encode(HyperDHTSignatures.peerHandshakeNamespace) == constants["PEER_HANDSHAKE"])
        #expect(Hex.encode(HyperDHTSignatures.peerHolepunchNamespace) == constants["PEER_HOLEPUNCH"])
        #expect(Hex.encode(HyperDHTSignatures.pluginNamespace) == constants["PLUGIN"])

        let signatures = Self.file["signatures"] as! [String: Any]
        let keys = signatures["keyPair"] as! [String: String]
        let keyPair = try Ed25519.keyPair(seed: try Hex.decode(keys["seed"]!))
        #expect(Hex.encode(keyPair.publicKey) == keys["publicKey"])

        let announce = signatures["announce"] as! [String: Any]
        let peer = Self.peer(announce["peer"])!
        #expect(Hex.encode(peer.compactEncoded()) == announce["encodedPeer"] as? String)
        let arguments = (
            target: Self.bytes(announce["target"])!, nodeID: Self.bytes(announce["nodeId"])!,
            token: Self.bytes(announce["token"])!
        )
        let signable = HyperDHTSignatures.announceSignable(
            target: arguments.target, nodeID: arguments.nodeID, token: arguments.token, peer: peer, refresh: nil)
        #expect(Hex.encode(signable) == announce["signable"] as? String)
        let signature = Ed25519.sign(signable, keyPair: keyPair)
        #expect(Hex.encode(signature) == announce["signature"] as? String)
        #expect(Ed25519.verify(signature: signature, message: signable, publicKey: peer.publicKey))
        #expect(
            Hex.encode(HyperDHTAnnounce(peer: peer, signature: signature).compactEncoded())
                == announce["encodedAnnounce"] as? String)

        let unannounce = signatures["unannounce"] as! [String: String]
        let unsignable = HyperDHTSignatures.announceSignable(
            target: arguments.target, nodeID: arguments.nodeID, token: arguments.token, peer: peer, refresh: nil,
            unannounce: true)
        #expect(Hex.encode(unsignable) == unannounce["signable"])
        #expect(Hex.encode(Ed25519.sign(unsignable, keyPair: keyPair)) == unannounce["signature"])
        // An announce signature does not pass for an unannounce (another namespace), nor for another node.
        #expect(!Ed25519.verify(signature: signature, message: unsignable, publicKey: peer.publicKey))
        let elsewhere = HyperDHTSignatures.announceSignable(
            target: arguments.target, nodeID: [UInt8](repeating: 9, count: 32), token: arguments.token, peer: peer,
            refresh: nil)
        #expect(!Ed25519.verify(signature: signature, message: elsewhere, publicKey: peer.publicKey))

        let mutable = signatures["mutable"] as! [String: Any]
        let mutableSignable = HyperDHTSignatures.mutableSignable(
            seq: Self.uint(mutable["seq"]), value: Self.bytes(mutable["value"])!)
        #expect(Hex.encode(mutableSignable) == mutable["signable"] as? String)
        #expect(Hex.encode(Ed25519.sign(mutableSignable, keyPair: keyPair)) == mutable["signature"] as? String)
        #expect(Hex.encode(HyperDHTSignatures.mutableTarget(keyPair.publicKey)) == mutable["target"] as? String)

        let immutable = signatures["immutable"] as! [String: String]
        #expect(
            Hex.encode(HyperDHTSignatures.immutableTarget(try Hex.decode(immutable["value"]!))) == immutable["target"])
    }

    /// A holepunch payload sealed with a fixed secret and nonce is byte for byte the reference's, and opens again;
    /// a tampered or truncated one opens to nothing.
    @Test func holepunchPayloadsAreSealedAsTheReferenceSealsThem() throws {
        let vector = Self.file["holepunchPayloadEncryption"] as! [String: Any]
        let plaintext = vector["plaintext"] as! [String: Any]
        let payload = HyperDHTHolepunchPayload(
            error: Self.uint(plaintext["error"]), firewall: Self.uint(plaintext["firewall"]),
            round: Self.uint(plaintext["round"]), connected: plaintext["connected"] as! Bool,
            punching: plaintext["punching"] as! Bool, addresses: Self.endpoints(plaintext["addresses"]),
            remoteAddress: Self.endpoint(plaintext["remoteAddress"]), token: Self.bytes(plaintext["token"]),
            remoteToken: Self.bytes(plaintext["remoteToken"]))
        #expect(Hex.encode(payload.compactEncoded()) == vector["encodedPlaintext"] as? String)
        let sealer = HyperDHTSecurePayload(secret: Self.bytes(vector["secret"])!)
        let sealed = sealer.encrypt(payload, nonce: Self.bytes(vector["nonce"])!)
        #expect(Hex.encode(sealed) == vector["encrypted"] as? String)
        #expect(sealer.decrypt(sealed) == payload)
        var tampered = sealed
        tampered[30] ^= 1
        #expect(sealer.decrypt(tampered) == nil)
        #expect(sealer.decrypt(Array(sealed.prefix(40))) == nil)
        #expect(HyperDHTSecurePayload(secret: [UInt8](repeating: 1, count: 32)).decrypt(sealed) == nil)
    }

    /// Found by the fuzzer: a payload whose sections carry other versions than 1 is written back with version 1, as
    /// the reference writes it; that encoding is then stable (decoding and encoding it gives it back).
    @Test func aPayloadWithOtherSectionVersionsIsNormalisedStably() throws {
        let input = try Hex.decode("017f030303010506070849c20909091100000000000000409c64400001010001000000000000000000000000000000010900010163fd393001010023c7a2c1b9bc06d2323cb4786c9fb4b602369ee4faeb5200d6bf96191bca8ade02020202020202020202020203020202020202020202020202020202020202446f750707070700")
        let payload = try HyperDHTNoisePayload(leniently: input)
        let encoded = payload.compactEncoded()
        let again = try HyperDHTNoisePayload(leniently: encoded)
        #expect(again.compactEncoded() == encoded)
        #expect(again.udx.map { $0.version == 1 } ?? true)
    }

    /// Every encoding cut short fails to decode (never a crash or a half-read record).
    @Test func truncatedRecordsAreRefused() throws {
        Self.expectEveryPrefixRefused(HyperDHTAnnounce.self, "announce")
        Self.expectEveryPrefixRefused(HyperDHTNoisePayload.self, "noisePayload")
        Self.expectEveryPrefixRefused(HyperDHTMutablePut.self, "mutablePutRequest")
    }

    static func expectEveryPrefixRefused<Message: CompactDecodable>(_ type: Message.Type, _ group: String) {
        for (_, bytes) in entries(group) {
            for length in 0..<bytes.count {
                #expect(throws: CompactEncodingError.self) { _ = try Message(leniently: Array(bytes.prefix(length))) }
            }
        }
    }
}
