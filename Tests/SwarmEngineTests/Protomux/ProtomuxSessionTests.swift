import SwarmEngine
import TestVectors
import Testing

/// Pairing, rejects, id reuse, cork nesting and hostile input for the protomux state machine.
@Suite struct ProtomuxSessionTests {
    typealias Output = ProtomuxSession.Output

    static func frames(_ outputs: [Output]) -> [[UInt8]] {
        outputs.compactMap { if case .write(let bytes) = $0 { bytes } else { nil } }
    }

    static func events(_ outputs: [Output]) -> [ProtomuxSession.Event] {
        outputs.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    /// Delivers every frame in `outputs` to `receiver`, returning its outputs.
    static func deliver(_ outputs: [Output], to receiver: inout ProtomuxSession) throws -> [Output] {
        try frames(outputs).flatMap { try receiver.receive($0) }
    }

    @Test func anUnsolicitedOpenWaitsAndItsMessagesAreBufferedUntilPaired() throws {
        var a = ProtomuxSession(), b = ProtomuxSession()
        var toB = try a.open(protocol: "p", id: [7], handshake: [1])
        toB += try a.send(protocol: "p", id: [7], type: 2, message: [9, 9])
        let atB = try Self.deliver(toB, to: &b)
        #expect(Self.events(atB) == [.openRequested(protocol: "p", id: [7], handshake: [1])])
        // b opens the same channel: its open goes out, then the pairing and the buffered message.
        let opened = try b.open(protocol: "p", id: [7], handshake: [2])
        #expect(Self.frames(opened) == [[0, 1, 1, 1, UInt8(ascii: "p"), 1, 7, 2]])
        #expect(Self.events(opened) == [
            .opened(protocol: "p", id: [7], handshake: [1]),
            .message(protocol: "p", id: [7], type: 2, message: [9, 9]),
        ])
        #expect(Self.events(try Self.deliver(opened, to: &a)) == [.opened(protocol: "p", id: [7], handshake: [2])])
        #expect(a.isPaired(protocol: "p", id: [7]) && b.isPaired(protocol: "p", id: [7]))
        // Opening it again is refused locally; sending on an unknown channel too.
        #expect(throws: ProtomuxError.alreadyOpen) { try a.open(protocol: "p", id: [7], handshake: []) }
        #expect(throws: ProtomuxError.notOpen) { try a.send(protocol: "q", id: [], type: 0, message: []) }
    }

    @Test func rejectClosesTheOpenersChannelAndFreesItsId() throws {
        var a = ProtomuxSession(), b = ProtomuxSession()
        _ = try Self.deliver(try a.open(protocol: "p", id: [], handshake: []), to: &b)
        let rejection = try b.reject(protocol: "p", id: [])
        #expect(Self.frames(rejection) == [[0, 2, 1]])
        #expect(Self.events(try Self.deliver(rejection, to: &a)) == [.rejected(protocol: "p", id: [])])
        #expect(!a.isOpen(protocol: "p", id: []))
        // The freed id 1 is reused by the next open, and the peer accepts it in the freed slot.
        let again = try a.open(protocol: "q", id: [], handshake: [])
        #expect(Self.frames(again).first?.prefix(3) == [0, 1, 1])
        #expect(Self.events(try Self.deliver(again, to: &b)) == [.openRequested(protocol: "q", id: [], handshake: [])])
        // A reject for an id we never opened is a protocol error.
        #expect(throws: ProtomuxError.invalidReject(channel: 5)) { try a.receive([0, 2, 5]) }
        #expect(throws: ProtomuxError.noPendingOpen) { try b.reject(protocol: "zzz", id: []) }
    }

    @Test func closeFreesIdsOnBothSidesAndIdsAreReusedMostRecentFirst() throws {
        var a = ProtomuxSession(), b = ProtomuxSession()
        for name in ["x", "y", "z"] {
            _ = try Self.deliver(try a.open(protocol: name, id: [], handshake: []), to: &b)
            _ = try Self.deliver(try b.open(protocol: name, id: [], handshake: []), to: &a)
        }
        #expect(Self.events(try Self.deliver(try a.close(protocol: "x", id: []), to: &b)) == [.closed(protocol: "x", id: [])])
        #expect(Self.events(try Self.deliver(try a.close(protocol: "y", id: []), to: &b)) == [.closed(protocol: "y", id: [])])
        #expect(!b.isOpen(protocol: "x", id: []) && b.isOpen(protocol: "z", id: []))
        // a freed 1 then 2: the next open takes 2, the one after takes 1.
        #expect(Self.frames(try a.open(protocol: "v", id: [], handshake: [])).first?.prefix(3) == [0, 1, 2])
        #expect(Self.frames(try a.open(protocol: "w", id: [], handshake: [])).first?.prefix(3) == [0, 1, 1])
        // Messages on a closed channel are dropped, not delivered.
        #expect(try b.receive([1, 0, 5]).isEmpty)
        // A close for an unknown id is ignored.
        #expect(try b.receive([0, 3, 99]).isEmpty)
    }

    @Test func withdrawingAPendingOpenIsAnsweredWithAReject() throws {
        var a = ProtomuxSession(), b = ProtomuxSession()
        _ = try Self.deliver(try a.open(protocol: "p", id: [], handshake: []), to: &b)
        let atB = try Self.deliver(try a.close(protocol: "p", id: []), to: &b)
        #expect(Self.frames(atB) == [[0, 2, 1]])
        #expect(Self.events(atB) == [.closed(protocol: "p", id: [])])
        // a takes the reject quietly (its channel is already closed) and id 1 is free again on both sides.
        #expect(try Self.deliver(atB, to: &a).isEmpty)
        #expect(Self.events(try Self.deliver(try a.open(protocol: "p", id: [], handshake: []), to: &b))
            == [.openRequested(protocol: "p", id: [], handshake: [])])
    }

    @Test func invalidOpensAreProtocolErrors() throws {
        var b = ProtomuxSession()
        // Ids must grow by one: 2 before 1 is invalid.
        #expect(throws: ProtomuxError.invalidOpen(channel: 2)) { try b.receive([0, 1, 2, 1, UInt8(ascii: "p"), 0]) }
        var c = ProtomuxSession()
        _ = try c.receive([0, 1, 1, 1, UInt8(ascii: "p"), 0])
        // Reusing a slot that is still taken is invalid too.
        #expect(throws: ProtomuxError.invalidOpen(channel: 1)) { try c.receive([0, 1, 1, 1, UInt8(ascii: "q"), 0]) }
        // An open on channel 0 is ignored.
        var d = ProtomuxSession()
        #expect(try d.receive([0, 1, 0, 1, UInt8(ascii: "p"), 0]).isEmpty)
    }

    @Test func limitsOnPeerStateAreEnforced() throws {
        var few = ProtomuxSession(maximumRemoteChannels: 2)
        _ = try few.receive([0, 1, 1, 1, UInt8(ascii: "a"), 0])
        _ = try few.receive([0, 1, 2, 1, UInt8(ascii: "b"), 0])
        #expect(throws: ProtomuxError.self) { try few.receive([0, 1, 3, 1, UInt8(ascii: "c"), 0]) }
        // Too much waiting on unpaired channels: that channel is rejected (the peer's open is answered with a
        // reject and we report it closed), the session goes on, and the bytes are released.
        var small = ProtomuxSession(maximumBufferedBytes: 2_000)
        _ = try small.receive([0, 1, 1, 1, UInt8(ascii: "a"), 0])
        _ = try small.receive([1, 0] + [UInt8](repeating: 1, count: 500))
        #expect(try small.receive([1, 0] + [UInt8](repeating: 1, count: 900)) == [
            .write([0, 2, 1]), .event(.closed(protocol: "a", id: [])),
        ])
        #expect(small.bufferedBytes == 0)
        // Messages on the refused id are dropped; opening the name here now waits for a new open from the peer.
        #expect(try small.receive([1, 0, 7]).isEmpty)
        #expect(try small.open(protocol: "a", id: [], handshake: []) == [.write([0, 1, 1, 1, UInt8(ascii: "a"), 0])])
        // An open whose handshake alone is over the limit is refused at once, without being reported.
        var tiny = ProtomuxSession(maximumBufferedBytes: 600)
        #expect(try tiny.receive([0, 1, 1, 1, UInt8(ascii: "b"), 0] + [UInt8](repeating: 2, count: 200)) == [.write([0, 2, 1])])
    }

    /// Protocol names are matched by their UTF-8 bytes, as the reference matches JavaScript strings: "é" written
    /// precomposed and decomposed are two different channels.
    @Test func protocolNamesAreComparedByteForByte() throws {
        let composed = "\u{e9}", decomposed = "e\u{301}"
        #expect(composed == decomposed)  // Swift's String equality would merge them.
        var a = ProtomuxSession()
        _ = try a.open(protocol: composed, id: [], handshake: [])
        let peerOpen = ProtomuxFrame.open(channel: 1, protocol: decomposed, id: [], handshake: []).encoded()
        #expect(try a.receive(peerOpen) == [.event(.openRequested(protocol: decomposed, id: [], handshake: []))])
        #expect(!a.isPaired(protocol: composed, id: []))
    }

    /// Corked batches are written before they outgrow the size limit, so each fits a transport frame.
    @Test func batchesStayWithinTheirLimit() throws {
        var a = ProtomuxSession(maximumBatchSize: 1_000), b = ProtomuxSession()
        _ = try Self.deliver(try a.open(protocol: "x", id: [], handshake: []), to: &b)
        _ = try Self.deliver(try b.open(protocol: "x", id: [], handshake: []), to: &a)
        a.cork()
        var frames: [[UInt8]] = []
        for _ in 0..<10 { frames += Self.frames(try a.send(protocol: "x", id: [], type: 0, message: [UInt8](repeating: 3, count: 300))) }
        frames += Self.frames(a.uncork())
        #expect(frames.count == 4)
        #expect(frames.allSatisfy { $0.count <= 1_000 })
        var received = 0
        for frame in frames { received += Self.events(try b.receive(frame)).count }
        #expect(received == 10)
    }

    @Test func nestedCorksProduceOneBatchWithControlFramesAndChannelSwitches() throws {
        var a = ProtomuxSession(), b = ProtomuxSession()
        _ = try Self.deliver(try a.open(protocol: "x", id: [], handshake: []), to: &b)
        _ = try Self.deliver(try b.open(protocol: "x", id: [], handshake: []), to: &a)
        a.cork()
        a.cork()
        #expect(try a.open(protocol: "y", id: [], handshake: [5]).isEmpty)
        #expect(try a.send(protocol: "x", id: [], type: 0, message: [1]).isEmpty)
        #expect(try a.send(protocol: "y", id: [], type: 1, message: [2]).isEmpty)
        #expect(a.uncork().isEmpty)  // still corked once
        let batch = a.uncork()
        // 00 00 ‖ channel 0 ‖ [len 6: open y id 2 hs 5] ‖ switch to 1 ‖ [len 2: type 0, 1] ‖ switch to 2 ‖ [len 2: type 1, 2]
        #expect(Self.frames(batch) == [[0, 0, 0, 6, 1, 2, 1, UInt8(ascii: "y"), 0, 5, 0, 1, 2, 0, 1, 0, 2, 2, 1, 2]])
        #expect(Self.events(try Self.deliver(batch, to: &b)) == [
            .openRequested(protocol: "y", id: [], handshake: [5]),
            .message(protocol: "x", id: [], type: 0, message: [1]),
        ])
        #expect(Self.events(try b.open(protocol: "y", id: [], handshake: [])) == [
            .opened(protocol: "y", id: [], handshake: [5]),
            .message(protocol: "y", id: [], type: 1, message: [2]),
        ])
        #expect(a.uncork().isEmpty)  // unbalanced uncork is harmless
    }

    @Test func garbageNeverTraps() {
        var rng = SeededGenerator(seed: 77)
        var mux = ProtomuxSession()
        for _ in 0..<20_000 { _ = try? mux.receive(rng.bytes(Int.random(in: 0...40, using: &rng))) }
        // Structured garbage: control frames with random bodies.
        for _ in 0..<20_000 {
            var fresh = ProtomuxSession()
            _ = try? fresh.receive([0, UInt8.random(in: 0...4, using: &rng)] + rng.bytes(Int.random(in: 0...20, using: &rng)))
        }
        // A batch whose item claims more bytes than remain is refused.
        #expect(throws: ProtomuxError.self) { try mux.receive([0, 0, 1, 0x20, 1]) }
        // Huge varints never become huge allocations or traps.
        #expect(throws: ProtomuxError.self) { try mux.receive([0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) }
        // Deeply nested batches are refused.
        var frame: [UInt8] = [1, 2, 3]
        for _ in 0..<8 { frame = [0, 0, 0, UInt8(frame.count)] + frame }
        var fresh = ProtomuxSession()
        #expect(throws: ProtomuxError.self) { try fresh.receive(frame) }
    }
}
