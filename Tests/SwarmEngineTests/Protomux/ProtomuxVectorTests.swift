import CompactEncoding
import SwarmEngine
import TestVectors
import Testing

/// `protomux.json`: our session encodes the recorded opens, messages, batch and close to the recorded frames, and
/// decodes every recorded frame to the recorded events.
@Suite struct ProtomuxVectorTests {
    struct File: Decodable {
        let decryptedMessagesAtResponder: [String]
        let decryptedMessagesAtInitiator: [String]
    }

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

    @Test func initiatorFramesAreByteExact() throws {
        let file: File = try ReferenceVectors.load("protomux.json")
        let chat = [UInt8](repeating: 9, count: 32)
        var mux = ProtomuxSession()
        var frames: [[UInt8]] = []
        frames.append(contentsOf: [mux.open(protocol: "example/chat", id: chat, handshake: Self.string("hi-from-initiator"))].compactMap { $0 })
        frames.append(contentsOf: [mux.send(protocol: "example/chat", id: chat, type: 0, message: Self.string("first message"))].compactMap { $0 })
        frames.append(contentsOf: [mux.send(protocol: "example/chat", id: chat, type: 1, message: Self.uint(300))].compactMap { $0 })
        mux.cork()
        let whileCorked = mux.send(protocol: "example/chat", id: chat, type: 0, message: Self.string("batched a"))
        #expect(whileCorked == nil)
        _ = mux.send(protocol: "example/chat", id: chat, type: 0, message: Self.string("batched b"))
        _ = mux.send(protocol: "example/chat", id: chat, type: 1, message: Self.uint(7))
        frames.append(contentsOf: [mux.uncork()].compactMap { $0 })
        frames.append(contentsOf: [mux.open(protocol: "example/other", id: [], handshake: [])].compactMap { $0 })
        frames.append(contentsOf: [mux.close(protocol: "example/chat", id: chat)].compactMap { $0 })
        #expect(frames.map(Hex.encode) == file.decryptedMessagesAtResponder)
    }

    @Test func recordedFramesDecodeToTheRecordedEvents() throws {
        let file: File = try ReferenceVectors.load("protomux.json")
        var responder = ProtomuxSession()
        var events: [ProtomuxSession.Event] = []
        for frame in file.decryptedMessagesAtResponder { events += try responder.receive(Hex.decode(frame)) }
        let chat = [UInt8](repeating: 9, count: 32)
        #expect(events == [
            .opened(protocol: "example/chat", id: chat, handshake: Self.string("hi-from-initiator")),
            .message(protocol: "example/chat", id: chat, type: 0, message: Self.string("first message")),
            .message(protocol: "example/chat", id: chat, type: 1, message: Self.uint(300)),
            .message(protocol: "example/chat", id: chat, type: 0, message: Self.string("batched a")),
            .message(protocol: "example/chat", id: chat, type: 0, message: Self.string("batched b")),
            .message(protocol: "example/chat", id: chat, type: 1, message: Self.uint(7)),
            .opened(protocol: "example/other", id: [], handshake: []),
            .closed(protocol: "example/chat", id: chat),
        ])
        var initiator = ProtomuxSession()
        let back = try file.decryptedMessagesAtInitiator.flatMap { try initiator.receive(Hex.decode($0)) }
        #expect(back.count == 2)
        #expect(back.first == .opened(protocol: "example/chat", id: chat, handshake: Self.string("hi-from-responder")))
    }

    @Test func garbageNeverTraps() {
        var rng = SeededGenerator(seed: 77)
        var mux = ProtomuxSession()
        for _ in 0..<20_000 { _ = try? mux.receive(rng.bytes(Int.random(in: 0...40, using: &rng))) }
        // A batch whose item claims more bytes than remain is refused.
        #expect(throws: ProtomuxSession.Failure.self) { try mux.receive([0, 0, 1, 0x20, 1]) }
        // Deeply nested batches are refused.
        var frame: [UInt8] = [1, 2, 3]
        for _ in 0..<8 { frame = [0, 0, 0, UInt8(frame.count)] + frame }
        var fresh = ProtomuxSession()
        #expect(throws: ProtomuxSession.Failure.self) { try fresh.receive(frame) }
    }
}
