import CompactEncoding
import HyperLog
import TestVectors
import Testing

/// `hypercore-wire.json` samples: each message value encodes to the reference bytes and decodes back.
@Suite struct ReplicationWireVectorTests {
    struct Sample: Decodable { let message: String; let value: JSONValue; let hex: String }
    struct File: Decodable { let messageTypes: [String]; let samples: [Sample] }

    let file: File
    init() throws { file = try ReferenceVectors.load("hypercore-wire.json") }

    struct Unhandled: Error { let message: String }

    @Test func messageTypeOrder() {
        #expect(
            file.messageTypes
                == ["sync", "request", "cancel", "data", "noData", "want", "unwant", "bitfield", "range", "extension"])
    }

    @Test func everySampleRoundTrips() throws {
        #expect(file.samples.count == 21)
        for sample in file.samples {
            let bytes = try Hex.decode(sample.hex)
            let reencoded: [UInt8]
            switch sample.message {
            case "handshake":
                let value = try ReplicationHandshake(compactEncoded: bytes)
                #expect(value.seeks == (sample.value["seeks"] == .bool(true)))
                #expect(Hex.encode(value.capability) == sample.value["capability"]?.stringValue)
                reencoded = value.compactEncoded()
            case "sync":
                let value = try SyncMessage(compactEncoded: bytes)
                #expect(value.length == UInt64(sample.value["length"]?.integerValue ?? -1))
                #expect(value.remoteLength == UInt64(sample.value["remoteLength"]?.integerValue ?? -1))
                #expect(value.fork == UInt64(sample.value["fork"]?.integerValue ?? -1))
                #expect(value.canUpgrade == (sample.value["canUpgrade"] == .bool(true)))
                #expect(value.allowPush == (sample.value["allowPush"] == .bool(true)))
                #expect(value.hasManifest == (sample.value["hasManifest"] == .bool(true)))
                reencoded = value.compactEncoded()
            case "request":
                let value = try RequestMessage(compactEncoded: bytes)
                #expect(value.id == UInt64(sample.value["id"]?.integerValue ?? -1))
                #expect(value.manifest == (sample.value["manifest"] == .bool(true)))
                #expect(value.priority == UInt64(sample.value["priority"]?.integerValue ?? -1))
                reencoded = value.compactEncoded()
            case "cancel": reencoded = try CancelMessage(compactEncoded: bytes).compactEncoded()
            case "data":
                let value = try DataMessage(compactEncoded: bytes)
                #expect(value.request == UInt64(sample.value["request"]?.integerValue ?? -1))
                if let block = sample.value["block"], block != .null {
                    #expect(Hex.encode(value.block?.value ?? []) == block["value"]?.stringValue)
                    #expect(value.block?.nodes.count == block["nodes"]?.arrayValue?.count)
                }
                if let upgrade = sample.value["upgrade"], upgrade != .null {
                    #expect(Hex.encode(value.upgrade?.signature ?? []) == upgrade["signature"]?.stringValue)
                    #expect(value.upgrade?.additionalNodes.first?.index == 17)
                    #expect(value.manifest?.signers.count == 1)
                }
                reencoded = value.compactEncoded()
            case "noData":
                let value = try NoDataMessage(compactEncoded: bytes)
                #expect(value.reason == UInt64(sample.value["reason"]?.integerValue ?? -1))
                reencoded = value.compactEncoded()
            case "want", "unwant":
                let value = try WantMessage(compactEncoded: bytes)
                #expect(value.any == (sample.value["any"] == .bool(true)))
                #expect(value.length == UInt64(sample.value["length"]?.integerValue ?? -1))
                reencoded = value.compactEncoded()
            case "bitfield":
                let value = try BitfieldMessage(compactEncoded: bytes)
                #expect(value.words == [0xffff_ffff, 3])
                reencoded = value.compactEncoded()
            case "range":
                let value = try RangeMessage(compactEncoded: bytes)
                #expect(value.drop == (sample.value["drop"] == .bool(true)))
                #expect(value.length == UInt64(sample.value["length"]?.integerValue ?? -1))
                reencoded = value.compactEncoded()
            case "extension":
                let value = try ExtensionMessage(compactEncoded: bytes)
                #expect(value.name == "example-ext")
                reencoded = value.compactEncoded()
            case "reorgHint": reencoded = try ReorgHintMessage(compactEncoded: bytes).compactEncoded()
            case "manifest": reencoded = try Manifest(compactEncoded: bytes).compactEncoded()
            case "multiSignature": reencoded = try MultiSignature(compactEncoded: bytes).compactEncoded()
            default: throw Unhandled(message: sample.message)
            }
            #expect(Hex.encode(reencoded) == sample.hex, "\(sample.message)")
        }
    }

    @Test func capabilitiesFromTheHandshakeHash() throws {
        struct Live: Decodable {
            let writerKey, handshakeHash, initiatorCapability, responderCapability: String
        }
        struct LiveFile: Decodable { let liveSession: Live }
        let live = try ReferenceVectors.load("hypercore-wire.json", as: LiveFile.self).liveSession
        let key = try Hex.decode(live.writerKey), hash = try Hex.decode(live.handshakeHash)
        #expect(
            Hex.encode(try ReplicationHandshake.capability(isInitiator: true, key: key, handshakeHash: hash))
                == live.initiatorCapability)
        #expect(
            Hex.encode(try ReplicationHandshake.capability(isInitiator: false, key: key, handshakeHash: hash))
                == live.responderCapability)
    }

    @Test func malformedMessagesAreRejected() {
        var rng = SeededGenerator(seed: 11)
        for type in UInt64(0)...10 {
            for _ in 0..<2000 {
                _ = try? ReplicationMessage(type: type, bytes: rng.bytes(Int.random(in: 0...60, using: &rng)))
            }
        }
        // Truncations of a real data message all fail.
        let data = DataMessage(
            request: 1, fork: 0,
            block: .init(index: 3, value: [1, 2, 3], nodes: [TreeNode(index: 4, size: 7, hash: .init(repeating: 1, count: 32))]))
        let bytes = data.compactEncoded()
        for length in 0..<bytes.count {
            #expect(throws: CompactEncodingError.self) { try DataMessage(compactEncoded: Array(bytes.prefix(length))) }
        }
        #expect(throws: CompactEncodingError.self) { try ReplicationMessage(type: 42, bytes: []) }
        // A block that claims 17 MB is refused before allocation.
        var huge = CompactByteWriter()
        huge.writeUInt(1); huge.writeUInt(0); huge.writeUInt(0); huge.writeUInt(0)
        huge.writeUInt(UInt64(DataMessage.maximumBlockSize + 1))
        #expect(throws: CompactEncodingError.self) { try DataMessage(compactEncoded: huge.bytes) }
    }
}

/// Inputs the fuzzer found (Fuzz/run.sh), kept as regression tests.
@Suite struct ReplicationFuzzRegressionTests {
    /// An extension name of invalid UTF-8 within the 256-byte limit decodes with each bad byte replaced by U+FFFD
    /// (three bytes), so it would have encoded past the limit and then failed to decode: such a name is refused, and
    /// whatever decodes encodes back to something that decodes the same.
    @Test func anExtensionNameThatGrowsPastItsLimitIsRefused() throws {
        let name = [UInt8](repeating: 0x98, count: 152)
        let bytes = [UInt8(152)] + name + [0, 0, 0]
        #expect(throws: CompactEncodingError.self) { try ReplicationMessage(type: 9, bytes: bytes) }
        // Within the limit after replacement: decodes, and the round trip is stable.
        let short = [UInt8(10)] + [UInt8](repeating: 0x98, count: 10) + [1, 2]
        let message = try ReplicationMessage(type: 9, bytes: short)
        let again = try ReplicationMessage(type: 9, bytes: message.encoded())
        #expect(again == message)
    }
}
