import CompactEncoding
import Sodium
import SwarmEngine
import TestVectors
import Testing

/// `protomux.json`: two sessions replaying the recorded exchange write exactly the recorded frames, see the
/// recorded events, and — run over secret-stream with the recorded keys — put exactly the recorded bytes on the wire.
@Suite struct ProtomuxVectorTests {
    struct File: Decodable {
        let channelId: String
        let events: [[Value]]
        let decryptedMessagesAtResponder: [String]
        let decryptedMessagesAtInitiator: [String]
        let wireInitiatorToResponder: [String]
        let wireResponderToInitiator: [String]
    }

    /// Event entries mix strings and numbers.
    enum Value: Decodable, Equatable, CustomStringConvertible {
        case text(String)
        case number(UInt64)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(UInt64.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
        }
        var description: String {
            switch self {
            case .text(let text): text
            case .number(let number): "\(number)"
            }
        }
    }

    static let chat = "example/chat", other = "example/other"

    static func string(_ text: String) -> [UInt8] {
        var writer = CompactByteWriter()
        writer.writeString(text)
        return writer.bytes
    }

    static func uint(_ value: UInt64) -> [UInt8] {
        var writer = CompactByteWriter()
        writer.writeUInt(value)
        return writer.bytes
    }

    static func frames(_ outputs: [ProtomuxSession.Output]) -> [[UInt8]] {
        outputs.compactMap { if case .write(let bytes) = $0 { bytes } else { nil } }
    }

    static func events(_ outputs: [ProtomuxSession.Output]) -> [ProtomuxSession.Event] {
        outputs.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    /// What the reference's handlers print for one of our events (the recorded `events` format).
    static func describe(_ event: ProtomuxSession.Event) throws -> [String]? {
        switch event {
        case .opened(chat, _, let handshake):
            var reader = CompactReader(handshake)
            return ["open", try reader.readString()]
        case .opened(other, _, _):
            return ["open other"]
        case .message(chat, _, 0, let message):
            var reader = CompactReader(message)
            return ["message0(string)", try reader.readString()]
        case .message(chat, _, 1, let message):
            var reader = CompactReader(message)
            return ["message1(uint)", "\(try reader.readUInt())"]
        case .closed(chat, _):
            return ["close"]
        default:
            return nil
        }
    }

    /// The recorded exchange, with each side's frames handed to the other through `deliver`, which returns what
    /// the receiving side wrote in reply. Returns the recorded-format events per side.
    static func replay(
        chatID: [UInt8],
        initiatorWrites: (ProtomuxSession.Output) throws -> Void,
        responderWrites: (ProtomuxSession.Output) throws -> Void,
        toResponder: ([UInt8]) throws -> [[UInt8]],
        toInitiator: ([UInt8]) throws -> [[UInt8]]
    ) throws -> (initiator: [[String]], responder: [[String]]) {
        var initiator = ProtomuxSession(), responder = ProtomuxSession()
        var seenByInitiator: [[String]] = [], seenByResponder: [[String]] = []

        func runInitiator(_ outputs: [ProtomuxSession.Output]) throws {
            for output in outputs {
                try initiatorWrites(output)
                if case .event(let event) = output, let line = try describe(event) { seenByInitiator.append(line) }
                if case .write(let frame) = output {
                    for delivered in try toResponder(frame) {
                        try runResponder(try responder.receive(delivered))
                    }
                }
            }
        }
        func runResponder(_ outputs: [ProtomuxSession.Output]) throws {
            for output in outputs {
                try responderWrites(output)
                switch output {
                case .event(.openRequested(let name, let id, _)):
                    // The responder's app answers each open with its own (the reference's `pair` + createChannel).
                    let handshake = name == chat ? string("hi-from-responder") : []
                    try runResponder(try responder.open(protocol: name, id: id, handshake: handshake))
                case .event(let event):
                    if let line = try describe(event) { seenByResponder.append(line) }
                case .write(let frame):
                    for delivered in try toInitiator(frame) {
                        try runInitiator(try initiator.receive(delivered))
                    }
                }
            }
        }

        try runInitiator(try initiator.open(protocol: chat, id: chatID, handshake: string("hi-from-initiator")))
        try runInitiator(try initiator.send(protocol: chat, id: chatID, type: 0, message: string("first message")))
        try runInitiator(try initiator.send(protocol: chat, id: chatID, type: 1, message: uint(300)))
        initiator.cork()
        for (type, value) in [(0, string("batched a")), (0, string("batched b")), (1, uint(7))] as [(UInt64, [UInt8])] {
            let whileCorked = try initiator.send(protocol: chat, id: chatID, type: type, message: value)
            #expect(whileCorked.isEmpty)
        }
        try runInitiator(initiator.uncork())
        try runInitiator(try initiator.open(protocol: other, id: [], handshake: []))
        #expect(initiator.isPaired(protocol: chat, id: chatID) && responder.isPaired(protocol: chat, id: chatID))
        try runInitiator(try initiator.close(protocol: chat, id: chatID))
        // A local close is the caller's own act; the reference reports it through the channel's onclose.
        seenByInitiator.append(["close"])
        #expect(!responder.isOpen(protocol: chat, id: chatID))
        #expect(responder.isPaired(protocol: other, id: []))
        return (seenByInitiator, seenByResponder)
    }

    static func recordedEvents(_ file: File, side: String) -> [[String]] {
        file.events.filter { $0.first == .text(side) }.map { Array($0.dropFirst()).map(\.description) }
    }

    @Test func framesAndEventsAreByteExact() throws {
        let file: File = try ReferenceVectors.load("protomux.json")
        let chatID = try Hex.decode(file.channelId)
        var atResponder: [[UInt8]] = [], atInitiator: [[UInt8]] = []
        let seen = try Self.replay(
            chatID: chatID, initiatorWrites: { _ in }, responderWrites: { _ in },
            toResponder: { frame in atResponder.append(frame); return [frame] },
            toInitiator: { frame in atInitiator.append(frame); return [frame] })
        #expect(atResponder.map(Hex.encode) == file.decryptedMessagesAtResponder)
        #expect(atInitiator.map(Hex.encode) == file.decryptedMessagesAtInitiator)
        #expect(seen.responder == Self.recordedEvents(file, side: "responder"))
        #expect(seen.initiator == Self.recordedEvents(file, side: "initiator"))
    }

    /// The same exchange over two secret-stream sessions with the recorded keys and headers: identical wire chunks.
    @Test func wireChunksAreByteExact() throws {
        let file: File = try ReferenceVectors.load("protomux.json")
        func seed(_ label: String) -> [UInt8] { BLAKE2b.hash256(Array(label.utf8)) }
        func header(_ label: String) throws -> [UInt8] { try BLAKE2b.hash(Array(label.utf8), outputLength: 24) }
        var initiatorStream = try SecretStreamSession(
            isInitiator: true, staticKeyPair: Ed25519.keyPair(seed: seed("mux/initiator-static")),
            ephemeralKeyPair: Ed25519.keyPair(seed: seed("gen-stream/ephemeral/4")),
            header: header("gen-stream/secretstream-header/4"))
        var responderStream = try SecretStreamSession(
            isInitiator: false, staticKeyPair: Ed25519.keyPair(seed: seed("mux/responder-static")),
            ephemeralKeyPair: Ed25519.keyPair(seed: seed("gen-stream/ephemeral/5")),
            header: header("gen-stream/secretstream-header/5"))
        var wireToResponder: [[UInt8]] = [], wireToInitiator: [[UInt8]] = []

        // The handshake and header exchange first.
        func writes(_ events: [SecretStreamSession.Event]) -> [[UInt8]] {
            events.compactMap { if case .write(let bytes) = $0 { bytes } else { nil } }
        }
        var pendingToResponder = writes(try initiatorStream.start()), pendingToInitiator: [[UInt8]] = []
        while !pendingToResponder.isEmpty || !pendingToInitiator.isEmpty {
            wireToResponder += pendingToResponder
            wireToInitiator += pendingToInitiator
            let replies = try pendingToResponder.flatMap { writes(try responderStream.receive($0)) }
            pendingToResponder = try pendingToInitiator.flatMap { writes(try initiatorStream.receive($0)) }
            pendingToInitiator = replies
        }

        // Then the protomux frames, each encrypted into one frame and decrypted on the other side.
        func carry(_ frame: [UInt8], from sender: inout SecretStreamSession, to receiver: inout SecretStreamSession,
                   wire: inout [[UInt8]]) throws -> [[UInt8]] {
            let chunk = try sender.send(frame)
            wire.append(chunk)
            return try receiver.receive(chunk).compactMap { if case .message(let bytes) = $0 { bytes } else { nil } }
        }
        _ = try Self.replay(
            chatID: try Hex.decode(file.channelId), initiatorWrites: { _ in }, responderWrites: { _ in },
            toResponder: { try carry($0, from: &initiatorStream, to: &responderStream, wire: &wireToResponder) },
            toInitiator: { try carry($0, from: &responderStream, to: &initiatorStream, wire: &wireToInitiator) })
        #expect(wireToResponder.map(Hex.encode) == file.wireInitiatorToResponder)
        #expect(wireToInitiator.map(Hex.encode) == file.wireResponderToInitiator)
    }

    /// Every recorded frame decodes to the frame the grammar says, and encodes back to the same bytes.
    @Test func recordedFramesRoundTrip() throws {
        let file: File = try ReferenceVectors.load("protomux.json")
        let chatID = try Hex.decode(file.channelId)
        let decoded = try file.decryptedMessagesAtResponder.map { try ProtomuxFrame.decode(Hex.decode($0)) }
        #expect(decoded == [
            [.open(channel: 1, protocol: Self.chat, id: chatID, handshake: Self.string("hi-from-initiator"))],
            [.message(channel: 1, type: 0, body: Self.string("first message"))],
            [.message(channel: 1, type: 1, body: Self.uint(300))],
            [.message(channel: 1, type: 0, body: Self.string("batched a")),
             .message(channel: 1, type: 0, body: Self.string("batched b")),
             .message(channel: 1, type: 1, body: Self.uint(7))],
            [.open(channel: 2, protocol: Self.other, id: [], handshake: [])],
            [.close(channel: 1)],
        ])
        for (frames, hex) in zip(decoded, file.decryptedMessagesAtResponder) where frames.count == 1 {
            #expect(Hex.encode(frames[0].encoded()) == hex)
        }
        let batch = ProtomuxFrame.batch(decoded[3].map { ($0.channel, $0.batchItem()) })
        #expect(Hex.encode(batch) == file.decryptedMessagesAtResponder[3])
    }
}
