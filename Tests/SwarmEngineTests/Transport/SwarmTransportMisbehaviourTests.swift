import NIOCore
import NIOPosix
import Sodium
import SwarmEngine
import Synchronization
import Testing

/// A hand-driven peer completes a real XX handshake with a `SwarmTransport` listener over loopback TCP, then
/// misbehaves; the listener must close the connection and say why, never trap or hang.
@Suite(.serialized) struct SwarmTransportMisbehaviourTests {
    enum Attack: CaseIterable {
        case tamperedCiphertext, replayedFrame, truncatedFrame, oversizedLength, shortFrame
    }

    /// What the attacker writes after the handshake, and whether it then hangs up.
    static func bytes(for attack: Attack, session: inout SecretStreamSession) throws -> (bytes: [UInt8], endAfter: Bool) {
        switch attack {
        case .tamperedCiphertext:
            var frame = try session.send(Array("hello".utf8))
            frame[6] ^= 0x01
            return (frame, false)
        case .replayedFrame:
            let frame = try session.send(Array("hello".utf8))
            return (frame + frame, false)
        case .truncatedFrame:
            return (Array(try session.send(Array("hello".utf8)).prefix(12)), true)
        case .oversizedLength:
            return ([0xff, 0xff, 0xff] + [UInt8](repeating: 0, count: 32), false)
        case .shortFrame:
            return ([2, 0, 0, 1, 2], false)
        }
    }

    static func expectedError(_ attack: Attack) -> SwarmConnectionError {
        switch attack {
        case .tamperedCiphertext, .replayedFrame: .secretStream(.decryptionFailed)
        case .truncatedFrame: .secretStream(.truncatedFrame)
        case .oversizedLength: .secretStream(.frameTooLarge(length: 0xff_ffff, limit: SwarmTransport.defaultMaximumFrameLength))
        case .shortFrame: .secretStream(.invalidFrame(length: 2))
        }
    }

    @Test(arguments: Attack.allCases)
    func misbehaviourAfterTheHandshakeClosesTheConnection(_ attack: Attack) async throws {
        let setup = try await RawPeerSetup.start()
        let (inbox, raw) = (setup.inbox, setup.raw)
        let clientKeys = Ed25519.randomKeyPair()
        let serverHungUp = try await raw.executeThenClose { inbound, outbound in
            var session = try SecretStreamSession(isInitiator: true, staticKeyPair: clientKeys)
            func send(_ events: [SecretStreamSession.Event]) async throws {
                for case .write(let bytes) in events { try await outbound.write(ByteBuffer(bytes: bytes)) }
            }
            try await send(try session.start())
            var iterator = inbound.makeAsyncIterator()
            while !session.isOpen, var chunk = try await iterator.next() {
                try await send(try session.receive(chunk.readBytes(length: chunk.readableBytes) ?? []))
            }
            #expect(session.isOpen)
            // A genuine frame first (a protomux message for a channel nobody opened, which is dropped), so the
            // secretstream state has moved on before the attack.
            try await outbound.write(ByteBuffer(bytes: try session.send([5, 0, 1])))
            let (bytes, endAfter) = try Self.bytes(for: attack, session: &session)
            try await outbound.write(ByteBuffer(bytes: bytes))
            // Ending the connection mid-frame: closing our side is all there is to it.
            if endAfter { return true }
            // The server must hang up: the inbound side ends (or errors) rather than waiting forever.
            do {
                while try await iterator.next() != nil {}
            } catch {}
            return true
        }
        #expect(serverHungUp)
        let accepted = try #require(inbox.connections.withLock { $0.first })
        await accepted.waitUntilClosed()
        #expect(accepted.closeError == Self.expectedError(attack), "\(attack)")
        #expect(accepted.remotePublicKey == clientKeys.publicKey)
        try await setup.shutDown()
    }
}

/// A peer that ends its side (TCP half-close, as a Node `stream.end()` does) while our frames to it are still
/// queued: they are all written before we close, and the end counts as clean.
@Suite(.serialized) struct SwarmTransportPeerEndTests {
    @Test func queuedFramesReachAPeerThatEndedItsSide() async throws {
        let setup = try await RawPeerSetup.start(halfClosure: true)
        let (inbox, raw) = (setup.inbox, setup.raw)
        let count = 160, size = 64 * 1024  // 10 MiB: more than the socket buffers hold
        let frames = try await raw.executeThenClose { inbound, outbound in
            var session = try SecretStreamSession(isInitiator: true, staticKeyPair: Ed25519.randomKeyPair())
            var received = 0
            var iterator = inbound.makeAsyncIterator()
            for case .write(let bytes) in try session.start() { try await outbound.write(ByteBuffer(bytes: bytes)) }
            while !session.isOpen, var chunk = try await iterator.next() {
                for event in try session.receive(chunk.readBytes(length: chunk.readableBytes) ?? []) {
                    switch event {
                    case .write(let bytes): try await outbound.write(ByteBuffer(bytes: bytes))
                    case .message: received += 1
                    case .established: break
                    }
                }
            }
            // The server sends a burst we do not read yet, so most of it waits in its write queue.
            let accepted = try await Self.waitFor { inbox.connections.withLock { $0.first } }
            accepted.open(protocol: "bulk", id: [], handshake: [])
            for index in 0..<count {
                accepted.send(protocol: "bulk", id: [], type: 0, message: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size))
            }
            _ = try await Self.waitFor { accepted.unwrittenBytes > 1024 * 1024 ? true : nil }
            outbound.finish()  // our end: FIN, while we keep reading
            while var chunk = try await iterator.next() {
                for case .message in try session.receive(chunk.readBytes(length: chunk.readableBytes) ?? []) { received += 1 }
            }
            try session.receiveEnd()
            return received
        }
        #expect(frames == count + 1)  // the open and every message
        let accepted = try #require(inbox.connections.withLock { $0.first })
        await accepted.waitUntilClosed()
        #expect(accepted.closeError == nil)
        try await setup.shutDown()
    }

    static func waitFor<T: Sendable>(_ probe: () -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let value = probe() { return value }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw SwarmTransportTests.TimedOut(what: "the condition")
    }
}

/// A `SwarmTransport` listener on loopback and a raw TCP client connected to it: the test speaks secret-stream by
/// hand on the raw side (well or badly) and watches what the listener makes of it.
struct RawPeerSetup {
    final class Inbox: Sendable {
        let connections = Mutex<[SwarmConnection]>([])
    }

    let server: SwarmTransport
    let listener: any Channel
    let group: MultiThreadedEventLoopGroup
    let inbox: Inbox
    let raw: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// - Parameter halfClosure: let the raw side end its output while it keeps reading.
    static func start(halfClosure: Bool = false) async throws -> RawPeerSetup {
        let server = SwarmTransport(keyPair: Ed25519.randomKeyPair())
        let inbox = Inbox()
        let (listener, port) = try await server.listen(host: "127.0.0.1", port: 0) { connection in
            inbox.connections.withLock { $0.append(connection) }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let raw = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: halfClosure))
                }
            }
        return RawPeerSetup(server: server, listener: listener, group: group, inbox: inbox, raw: raw)
    }

    func shutDown() async throws {
        try await listener.close()
        try await server.shutdown()
        try await group.shutdownGracefully()
    }
}
