import Foundation
@testable import HyperLog
import Sodium
import TestVectors
import Synchronization
import Testing

@Suite struct ReplicationSessionTests {
    struct Stores {
        let directory = temporaryStoreDirectory("replication")
        let writerStore: LogStore
        let readerStore: LogStore
        let writer: SignedLog
        let reader: SignedLog

        init() async throws {
            writerStore = try LogStore(directory: directory.appendingPathComponent("writer"))
            readerStore = try LogStore(directory: directory.appendingPathComponent("reader"))
            writer = try await writerStore.writableLog(name: "room")
            reader = try await readerStore.replica(key: writer.key)
        }

        func cleanUp() { try? FileManager.default.removeItem(at: directory) }
    }

    /// The writer appends 500 entries and a first connection is cut after a few rounds, with messages still in flight
    /// (dropped). Returns how many entries the reader then holds from the start.
    static func replicateInterrupted(_ stores: Stores) async throws -> UInt64 {
        try await stores.writer.append((0..<500).map { Array("entry \($0)".utf8) })
        // A small window, so that six rounds move part of the log, not all of it.
        var configuration = ReplicationSession.Configuration()
        configuration.maximumInflight = 64
        let first = try await ReplicationLoopback.connect(
            initiator: stores.writer, responder: stores.reader, configuration: configuration)
        await first.pump(maximumRounds: 6) { false }
        await first.stop()
        return await stores.reader.contiguousLength
    }

    static func caughtUp(_ reader: SignedLog, _ writer: SignedLog) async -> Bool {
        let target = await writer.length
        let length = await reader.length, contiguous = await reader.contiguousLength
        return length == target && contiguous == target
    }

    @Test func replicatesEverythingAndFollowsLiveAppends() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<100).map { Array("line \($0)".utf8) })
        let pair = try await ReplicationLoopback.connect(initiator: stores.writer, responder: stores.reader)
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
        #expect(await pair.responder.closeReason == nil)
        #expect(await pair.initiator.closeReason == nil)
        await pair.stop()
    }

    /// A reader that downloads a long log does not remember every tree node it verified: the memory a session keeps
    /// for short proofs is bounded, not proportional to the log (two per block, which grew a gateway by megabytes).
    @Test func aLongDownloadKeepsBoundedNodeMemory() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        for start in stride(from: 0, to: 25_000, by: 5_000) {
            try await stores.writer.append((start..<start + 5_000).map { Array("entry \($0)".utf8) })
        }
        let pair = try await ReplicationLoopback.connect(initiator: stores.writer, responder: stores.reader)
        #expect(await pair.pump(timeout: .seconds(120)) { await Self.caughtUp(stores.reader, stores.writer) })
        let remembered = await pair.responder.rememberedNodeCount
        #expect(remembered <= 2 * ReplicationSession.nodeMemoryLimit && remembered < 40_000, "remembered \(remembered) nodes")
        await pair.stop()
    }

    @Test func duplicatedAndReorderedMessagesStillConverge() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<300).map { Array("entry \($0)".utf8) })
        var faults = ReplicationLoopback.Faults()
        faults.duplicate = true
        faults.reorder = true
        let pair = try await ReplicationLoopback.connect(initiator: stores.writer, responder: stores.reader, faults: faults)
        #expect(await pair.pump { await Self.caughtUp(stores.reader, stores.writer) })
        try await stores.reader.verifyEverything()
        #expect(await pair.responder.closeReason == nil)
        await pair.stop()
    }

    @Test func resumesAfterAnInterruption() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        let partial = try await Self.replicateInterrupted(stores)
        #expect(partial < 500)
        // Second connection (new handshake hash): picks up where the first stopped.
        let second = try await ReplicationLoopback.connect(initiator: stores.writer, responder: stores.reader)
        #expect(await second.pump { await Self.caughtUp(stores.reader, stores.writer) })
        try await stores.reader.verifyEverything()
        await second.stop()
    }

    /// The reader learned the writer's length (an upgrade) and got only part of the blocks when the connection ended;
    /// meanwhile the writer appended more. The next connection fetches both the old missing blocks and the new ones.
    @Test func resumesAfterAnInterruptionWhileTheWriterGoesOn() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        #expect(try await Self.replicateInterrupted(stores) < 500)
        #expect(await stores.reader.length == 500)
        try await stores.writer.append((500..<510).map { Array("entry \($0)".utf8) })
        let second = try await ReplicationLoopback.connect(initiator: stores.writer, responder: stores.reader)
        #expect(await second.pump { await Self.caughtUp(stores.reader, stores.writer) })
        try await stores.reader.verifyEverything()
        await second.stop()
    }

    @Test func tamperedBlocksAreRejectedAndNothingIsStored() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<20).map { Array("honest \($0)".utf8) })
        // Let the honest upgrade through, then corrupt every block.
        var faults = ReplicationLoopback.Faults()
        faults.tamperFromInitiator = { message in
            guard case .data(var data) = message, data.block != nil else { return message }
            data.block?.value = Array("forged".utf8)
            return .data(data)
        }
        let pair = try await ReplicationLoopback.connect(initiator: stores.writer, responder: stores.reader, faults: faults)
        #expect(await pair.pump { await pair.responder.closeReason != nil })
        #expect(await pair.responder.closeReason == .invalidProof)
        #expect(await stores.reader.contiguousLength == 0)
        await #expect(throws: HyperLogError.self) { try await stores.reader.get(0) }
        await pair.stop()
    }

    @Test func forgedSignatureIsRejected() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append([[1], [2], [3]])
        var faults = ReplicationLoopback.Faults()
        faults.tamperFromInitiator = { message in
            guard case .data(var data) = message, data.upgrade != nil else { return message }
            data.upgrade?.signature[10] ^= 0xff
            return .data(data)
        }
        let pair = try await ReplicationLoopback.connect(initiator: stores.writer, responder: stores.reader, faults: faults)
        #expect(await pair.pump { await pair.responder.closeReason != nil })
        #expect(await pair.responder.closeReason == .invalidProof)
        #expect(await stores.reader.length == 0)
        await pair.stop()
    }

    /// What one driver sent, for the test to deliver when it chooses.
    final class Outbox: Sendable {
        final class Box: Sendable {
            let messages = Mutex<[ReplicationMessage]>([])
        }

        private let box = Box()

        func add(_ messages: [ReplicationMessage]) { box.messages.withLock { $0 += messages } }

        func take() -> [ReplicationMessage] {
            box.messages.withLock { messages in
                defer { messages = [] }
                return messages
            }
        }
    }

    /// The transport may hand a driver the peer's first messages before the driver has processed the peer's open
    /// (it suspends while opening): they are held and processed once the channel is open, not taken as a protocol
    /// violation, and replication completes.
    @Test func messagesBeforeTheOpenIsProcessedAreHeldUntilIt() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        try await stores.writer.append((0..<10).map { Array("entry \($0)".utf8) })
        let hash = RandomBytes.generate(count: 64)
        let toReader = Outbox(), toWriter = Outbox()
        let writer = try await ReplicationDriver(log: stores.writer, handshakeHash: hash, isInitiator: true) {
            toReader.add($0)
        }
        let reader = try await ReplicationDriver(log: stores.reader, handshakeHash: hash, isInitiator: false) {
            toWriter.add($0)
        }
        await writer.remoteOpened(reader.handshake)
        let early = toReader.take()
        #expect(!early.isEmpty)
        await reader.receive(early)
        #expect(await reader.closeReason == nil)
        await reader.remoteOpened(writer.handshake)
        for _ in 0..<200 {
            if await Self.caughtUp(stores.reader, stores.writer) { break }
            let forWriter = toWriter.take(), forReader = toReader.take()
            if !forWriter.isEmpty { await writer.receive(forWriter) }
            if !forReader.isEmpty { await reader.receive(forReader) }
            if forWriter.isEmpty && forReader.isEmpty { await Task.yield() }
        }
        #expect(await Self.caughtUp(stores.reader, stores.writer))
        #expect(await reader.closeReason == nil)
        #expect(await writer.closeReason == nil)
        await writer.stop()
        await reader.stop()
    }

    /// Holding is bounded: up to `maximumHeldMessages` wait for the open, one more closes the channel.
    @Test func tooManyMessagesBeforeTheOpenCloseTheChannel() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        let reader = try await ReplicationDriver(
            log: stores.reader, handshakeHash: RandomBytes.generate(count: 64), isInitiator: false
        ) { _ in }
        let sync = ReplicationMessage.sync(SyncMessage(fork: 0, length: 0, remoteLength: 0))
        await reader.receive([ReplicationMessage](repeating: sync, count: ReplicationDriver.maximumHeldMessages - 1))
        await reader.receive([sync])
        #expect(await reader.closeReason == nil)
        await reader.receive([sync])
        #expect(await reader.closeReason == .protocolViolation(
            "more than \(ReplicationDriver.maximumHeldMessages) messages or \(ReplicationDriver.maximumHeldBytes) bytes before the channel opened"))
    }

    /// Holding is bounded in bytes too: a few large messages before the open close the channel.
    @Test func tooManyBytesBeforeTheOpenCloseTheChannel() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        let reader = try await ReplicationDriver(
            log: stores.reader, handshakeHash: RandomBytes.generate(count: 64), isInitiator: false
        ) { _ in }
        let large = ReplicationMessage.extension(ExtensionMessage(name: "x", message: [UInt8](repeating: 7, count: 3 * 1024 * 1024)))
        await reader.receive([large, large])
        #expect(await reader.closeReason == nil, "6 MiB may wait")
        await reader.receive([large])
        #expect(await reader.closeReason != nil, "9 MiB may not")
    }

    @Test func wrongCapabilityClosesTheChannel() async throws {
        let stores = try await Stores()
        defer { stores.cleanUp() }
        let reader = try await ReplicationDriver(
            log: stores.reader, handshakeHash: RandomBytes.generate(count: 64), isInitiator: false
        ) { _ in }
        // A peer that does not know this connection's handshake hash cannot produce the capability.
        await reader.remoteOpened(ReplicationHandshake(capability: RandomBytes.generate(count: 32)))
        #expect(await reader.closeReason == .invalidCapability)
    }

    @Test func requestFloodClosesTheChannel() async throws {
        let stores = try await Stores()
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

/// The pipelining rule on its own: sequential block requests count on the nodes earlier in-flight proofs will
/// bring, and a proof whose anchor never arrived is asked for again with a path to a node we really hold.
@Suite struct ReplicationPipeliningTests {
    static func openedSession(length: UInt64) throws -> ReplicationSession {
        let key = RandomBytes.generate(count: 32), hash = RandomBytes.generate(count: 64)
        var session = try ReplicationSession(
            key: key, handshakeHash: hash, isInitiator: false,
            local: .init(length: length, fork: 0, contiguousLength: 0, hasManifest: true,
                rootIndices: FlatTree.roots(forLength: length)))
        let capability = try ReplicationHandshake.capability(isInitiator: true, key: key, handshakeHash: hash)
        _ = session.opened(remote: ReplicationHandshake(capability: capability))
        _ = session.received(.sync(SyncMessage(fork: 0, length: length, remoteLength: length, hasManifest: true)))
        return session
    }

    static func blockRequests(_ actions: [ReplicationSession.Action]) -> [RequestMessage] {
        actions.compactMap { action in
            if case .send(.request(let request)) = action, request.block != nil { return request }
            return nil
        }
    }

    @Test func sequentialRequestsCountOnEachOther() throws {
        var session = try Self.openedSession(length: 64)
        let requests = Self.blockRequests(session.received(.range(RangeMessage(start: 0, length: 64))))
        #expect(requests.count == 64)
        // Block 0 needs the path to the root (6 nodes); block 1's leaf comes with block 0's proof.
        #expect(requests[0].block?.nodes == 6)
        #expect(requests[1].block?.nodes == 0)
        #expect(requests[2].block?.nodes == 1)
        let total = requests.reduce(0) { $0 + ($1.block?.nodes ?? 0) }
        #expect(total < 2 * 64, "pipelined proofs should average under two nodes, asked \(total)")

        // Block 1's proof ends at its leaf, which block 0's proof was to bring; say that anchor never came.
        let local = ReplicationSession.LocalState(
            length: 64, fork: 0, contiguousLength: 0, hasManifest: true, rootIndices: [63])
        let retry = Self.blockRequests(session.verified(request: requests[1].id, outcome: .retry, local: local))
        #expect(retry.first?.block?.index == 1)
        #expect(retry.first?.block?.nodes == 6, "the retry must reach a node we really hold")
        // A real forgery still closes the channel.
        let closing = session.verified(request: requests[2].id, outcome: .rejected, local: local)
        #expect(closing == [.close(.invalidProof)])
    }
}
