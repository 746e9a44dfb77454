import Foundation
import HyperLog
import Sodium
import TestVectors
import Testing

/// An in-memory link between two replication drivers. Messages cross as bytes (encoded and decoded again), and
/// the link can duplicate, reorder or corrupt them at the session boundary.
final class MemoryLink: @unchecked Sendable {
    // Guarded by `lock`; the drivers' transport closures append from their actors while the pump drains.
    private let lock = NSLock()
    private var toA: [(UInt64, [UInt8])] = []
    private var toB: [(UInt64, [UInt8])] = []

    var duplicate = false
    var reorder = false
    /// Applied to every message from A to B before it is delivered.
    var tamperAtoB: (@Sendable (ReplicationMessage) -> ReplicationMessage)?

    func sendFromA(_ messages: [ReplicationMessage]) {
        let wire = messages.map { message -> (UInt64, [UInt8]) in
            let message = tamperAtoB?(message) ?? message
            return (message.type, message.encoded())
        }
        lock.withLock { toB += duplicate ? wire.flatMap { [$0, $0] } : wire }
    }

    func sendFromB(_ messages: [ReplicationMessage]) {
        let wire = messages.map { ($0.type, $0.encoded()) }
        lock.withLock { toA += duplicate ? wire.flatMap { [$0, $0] } : wire }
    }

    func drain() -> (toA: [ReplicationMessage], toB: [ReplicationMessage]) {
        let (a, b) = lock.withLock { () -> ([(UInt64, [UInt8])], [(UInt64, [UInt8])]) in
            defer { toA = []; toB = [] }
            return (toA, toB)
        }
        func decode(_ wire: [(UInt64, [UInt8])]) -> [ReplicationMessage] {
            var messages = wire.compactMap { try? ReplicationMessage(type: $0.0, bytes: $0.1) }
            if reorder { messages.reverse() }
            return messages
        }
        return (decode(a), decode(b))
    }
}

struct ReplicationPair {
    let writer: ReplicationDriver
    let reader: ReplicationDriver
    let link: MemoryLink

    static func connect(writer writerLog: SignedLog, reader readerLog: SignedLog, link: MemoryLink = MemoryLink())
        async throws -> ReplicationPair
    {
        let handshakeHash = RandomBytes.generate(count: 64)
        let writer = try await ReplicationDriver(log: writerLog, handshakeHash: handshakeHash, isInitiator: true) {
            link.sendFromA($0)
        }
        let reader = try await ReplicationDriver(log: readerLog, handshakeHash: handshakeHash, isInitiator: false) {
            link.sendFromB($0)
        }
        await writer.remoteOpened(reader.handshake)
        await reader.remoteOpened(writer.handshake)
        return ReplicationPair(writer: writer, reader: reader, link: link)
    }

    /// Delivers messages until `done` holds or `timeout` passes; returns whether `done` held.
    @discardableResult
    func pump(maximumRounds: Int = .max, timeout: Duration = .seconds(20), until done: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        var rounds = 0
        while ContinuousClock.now < deadline, rounds < maximumRounds {
            if await done() { return true }
            let (toA, toB) = link.drain()
            if !toB.isEmpty { await reader.receive(toB) }
            if !toA.isEmpty { await writer.receive(toA) }
            if toA.isEmpty && toB.isEmpty { await Task.yield() }
            rounds += 1
        }
        return await done()
    }

    func stop() async {
        await writer.stop()
        await reader.stop()
    }
}

@Suite struct ReplicationSessionTests {
    struct Stores {
        let directory = temporaryStoreDirectory("replication")
        let writerStore: LogStore
        let readerStore: LogStore
        let writer: SignedLog
        let reader: SignedLog

        init() throws {
            writerStore = try LogStore(directory: directory.appendingPathComponent("writer"))
            readerStore = try LogStore(directory: directory.appendingPathComponent("reader"))
            writer = try writerStore.writableLog(name: "room")
            reader = try readerStore.replica(key: writer.key)
        }

        func cleanUp() { try? FileManager.default.removeItem(at: directory) }
    }

    static func caughtUp(_ reader: SignedLog, _ writer: SignedLog) async -> Bool {
        let target = await writer.length
        let length = await reader.length, contiguous = await reader.contiguousLength
        return length == target && contiguous == target
    }

    @Test func replicatesEverythingAndFollowsLiveAppends() async throws {
        let stores = try Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<100).map { Array("line \($0)".utf8) })
        let pair = try await ReplicationPair.connect(writer: stores.writer, reader: stores.reader)
        #expect(await pair.pump { await Self.caughtUp(stores.reader, stores.writer) })
        #expect(try await stores.reader.get(57) == Array("line 57".utf8))
        #expect(await stores.reader.manifest != nil)

        // Live: new appends on the writer reach the reader over the same channel.
        for round in 0..<5 {
            try await stores.writer.append([Array("live \(round)".utf8)])
            #expect(await pair.pump { await Self.caughtUp(stores.reader, stores.writer) })
        }
        #expect(try await stores.reader.get(104) == Array("live 4".utf8))
        try await stores.reader.verifyEverything()
        #expect(await pair.reader.closeReason == nil)
        #expect(await pair.writer.closeReason == nil)
        await pair.stop()
    }

    @Test func duplicatedAndReorderedMessagesStillConverge() async throws {
        let stores = try Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<300).map { Array("entry \($0)".utf8) })
        let link = MemoryLink()
        link.duplicate = true
        link.reorder = true
        let pair = try await ReplicationPair.connect(writer: stores.writer, reader: stores.reader, link: link)
        #expect(await pair.pump { await Self.caughtUp(stores.reader, stores.writer) })
        try await stores.reader.verifyEverything()
        #expect(await pair.reader.closeReason == nil)
        await pair.stop()
    }

    @Test func resumesAfterAnInterruption() async throws {
        let stores = try Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<500).map { Array("entry \($0)".utf8) })
        // First connection: cut after a few rounds, with messages still in flight (dropped).
        let first = try await ReplicationPair.connect(writer: stores.writer, reader: stores.reader)
        await first.pump(maximumRounds: 6) { false }
        await first.stop()
        let partial = await stores.reader.contiguousLength
        #expect(partial < 500)
        // Second connection (new handshake hash): picks up where the first stopped.
        let second = try await ReplicationPair.connect(writer: stores.writer, reader: stores.reader)
        #expect(await second.pump { await Self.caughtUp(stores.reader, stores.writer) })
        try await stores.reader.verifyEverything()
        await second.stop()
    }

    @Test func tamperedBlocksAreRejectedAndNothingIsStored() async throws {
        let stores = try Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<20).map { Array("honest \($0)".utf8) })
        // Let the honest upgrade through, then corrupt every block.
        let link = MemoryLink()
        link.tamperAtoB = { message in
            guard case .data(var data) = message, data.block != nil else { return message }
            data.block?.value = Array("forged".utf8)
            return .data(data)
        }
        let pair = try await ReplicationPair.connect(writer: stores.writer, reader: stores.reader, link: link)
        #expect(await pair.pump { await pair.reader.closeReason != nil })
        #expect(await pair.reader.closeReason == .invalidProof)
        #expect(await stores.reader.contiguousLength == 0)
        await #expect(throws: HyperLogError.self) { try await stores.reader.get(0) }
        await pair.stop()
    }

    @Test func forgedSignatureIsRejected() async throws {
        let stores = try Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append([[1], [2], [3]])
        let link = MemoryLink()
        link.tamperAtoB = { message in
            guard case .data(var data) = message, data.upgrade != nil else { return message }
            data.upgrade?.signature[10] ^= 0xff
            return .data(data)
        }
        let pair = try await ReplicationPair.connect(writer: stores.writer, reader: stores.reader, link: link)
        #expect(await pair.pump { await pair.reader.closeReason != nil })
        #expect(await pair.reader.closeReason == .invalidProof)
        #expect(await stores.reader.length == 0)
        await pair.stop()
    }

    @Test func wrongCapabilityClosesTheChannel() async throws {
        let stores = try Stores()
        defer { stores.cleanUp() }
        let link = MemoryLink()
        let reader = try await ReplicationDriver(
            log: stores.reader, handshakeHash: RandomBytes.generate(count: 64), isInitiator: false
        ) { link.sendFromB($0) }
        // A peer that does not know this connection's handshake hash cannot produce the capability.
        await reader.remoteOpened(ReplicationHandshake(capability: RandomBytes.generate(count: 32)))
        #expect(await reader.closeReason == .invalidCapability)
    }

    @Test func requestFloodClosesTheChannel() async throws {
        let stores = try Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append([[1]])
        let hash = RandomBytes.generate(count: 64)
        var session = try ReplicationSession(
            key: stores.writer.key, handshakeHash: hash, isInitiator: true,
            local: .init(length: 1, fork: 0, contiguousLength: 1, hasManifest: true, rootIndices: [0]))
        let remoteCapability = try ReplicationHandshake.capability(isInitiator: false, key: stores.writer.key, handshakeHash: hash)
        _ = session.opened(remote: ReplicationHandshake(capability: remoteCapability))
        var closed: ReplicationSessionError?
        for id in 0..<5000 where closed == nil {
            for action in session.received(.request(RequestMessage(id: UInt64(id), fork: 0, block: .init(index: 0, nodes: 0)))) {
                if case .close(let reason) = action { closed = reason }
            }
        }
        #expect(closed == .flooding("more than 4096 outstanding requests"))
        // Messages before open are a protocol violation.
        var early = try ReplicationSession(
            key: stores.writer.key, handshakeHash: hash, isInitiator: true,
            local: .init(length: 0, fork: 0, contiguousLength: 0, hasManifest: true, rootIndices: []))
        #expect(early.received(.cancel(CancelMessage(request: 1))).contains { if case .close = $0 { true } else { false } })
    }
}
