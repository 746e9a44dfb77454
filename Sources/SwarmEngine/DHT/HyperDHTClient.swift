import CompactEncoding
import NIOCore
import Sodium

/// A LOOKUP reply with peers: who answered, the peers it holds for the target and the target's bump.
public struct HyperDHTLookupResult: Sendable, Equatable {
    public var from: IPv4Endpoint
    public var peers: [HyperDHTPeer]
    public var bump: UInt64
}

/// A node that holds a server's own record (a FIND_PEER reply): the server announced itself through `from`, so a
/// handshake for it goes there.
public struct HyperDHTFoundPeer: Sendable, Equatable {
    public var from: IPv4Endpoint
    public var peer: HyperDHTPeer
}

/// HyperDHT's client operations (hyperdht 6.33 `index.js`): each walks toward its target with the command and, for
/// the writes, commits to the closest nodes that answered with the token each handed out (dht-rpc's `commit`).
extension DHTNode {
    // MARK: - Lookup and announce

    /// The LOOKUP replies that carry peers, as the walk gets them (hyperdht's `lookup`, an async iterator there). The
    /// sequence ends when the walk does; it fails only when no node answered at all.
    public func lookupReplies(_ target: [UInt8]) -> AsyncThrowingStream<HyperDHTLookupResult, any Error> {
        AsyncThrowingStream { continuation in
            eventLoop.execute {
                self.walk(Self.command(.lookup, target: target)) { reply in
                    if let result = Self.lookupResult(reply) { continuation.yield(result) }
                }.whenComplete { result in
                    switch result {
                    case .success: continuation.finish()
                    case .failure(let error): continuation.finish(throwing: error)
                    }
                }
            }
        }
    }

    /// Every peer announced under `target`, once each, when the walk is over.
    public func lookup(_ target: [UInt8]) -> EventLoopFuture<[HyperDHTPeer]> {
        eventLoop.preconditionInEventLoop()
        return walk(Self.command(.lookup, target: target)).map { result in
            var seen: Set<[UInt8]> = []
            var peers: [HyperDHTPeer] = []
            for found in result.replies.compactMap(Self.lookupResult) {
                for peer in found.peers where seen.insert(peer.publicKey).inserted { peers.append(peer) }
            }
            return peers
        }
    }

    static func lookupResult(_ reply: DHTQuery.Reply) -> HyperDHTLookupResult? {
        guard let value = reply.response.value, let found = try? HyperDHTLookupReply(leniently: value) else { return nil }
        return HyperDHTLookupResult(from: reply.from, peers: found.peers, bump: found.bump)
    }

    /// Announces `keyPair`'s public key under `target` (HyperDHT's ANNOUNCE) on the closest nodes: a LOOKUP walk,
    /// then to each of the closest nodes that handed us a token, the record signed for that node and token.
    /// Announcing under the hash of one's own key makes those nodes route handshakes to us. Succeeds once at least
    /// one node stored it; returns how many did.
    public func announce(
        _ target: [UInt8], keyPair: Ed25519.KeyPair, relayAddresses: [IPv4Endpoint] = []
    ) -> EventLoopFuture<Int> {
        signedCommit(
            target, keyPair: keyPair, peer: HyperDHTPeer(publicKey: keyPair.publicKey, relayAddresses: relayAddresses),
            unannounce: false)
    }

    /// Removes the record `announce` stored (HyperDHT's UNANNOUNCE), signed the same way.
    public func unannounce(_ target: [UInt8], keyPair: Ed25519.KeyPair) -> EventLoopFuture<Int> {
        signedCommit(target, keyPair: keyPair, peer: HyperDHTPeer(publicKey: keyPair.publicKey), unannounce: true)
    }

    /// An announce of `claimed` signed by another key (for tests: no node may store it).
    func announceForged(_ target: [UInt8], claiming claimed: [UInt8], signedBy signer: Ed25519.KeyPair) -> EventLoopFuture<Int> {
        signedCommit(target, keyPair: signer, peer: HyperDHTPeer(publicKey: claimed), unannounce: false)
    }

    /// A walk with `walk` (LOOKUP for a topic; FIND_PEER for a server's own key), then the announce or unannounce
    /// of `peer` signed for each of the first `limit` closest nodes and its token.
    func signedCommit(
        _ target: [UInt8], keyPair: Ed25519.KeyPair, peer: HyperDHTPeer, unannounce: Bool,
        walkingWith walk: HyperDHTRequestHandler.Command = .lookup, limit: Int = .max,
        accepted: ((DHTQuery.Reply) -> Void)? = nil
    ) -> EventLoopFuture<Int> {
        commit(Self.command(walk, target: target), limit: limit, accepted: accepted) { reply, token in
            guard let nodeID = reply.id else { return nil }
            let signable = HyperDHTSignatures.announceSignable(
                target: target, nodeID: nodeID, token: token, peer: peer, refresh: nil, unannounce: unannounce)
            let value = HyperDHTAnnounce(peer: peer, signature: Ed25519.sign(signable, keyPair: keyPair))
            return (unannounce ? .unannounce : .announce, value.compactEncoded())
        }
    }

    // MARK: - Finding a server

    /// The nodes that hold `publicKey`'s own record (HyperDHT's FIND_PEER on the hash of the key): where a client
    /// sends its handshake.
    public func findPeer(_ publicKey: [UInt8]) -> EventLoopFuture<[HyperDHTFoundPeer]> {
        eventLoop.preconditionInEventLoop()
        let target = HyperDHTSignatures.mutableTarget(publicKey)
        return walk(Self.command(.findPeer, target: target)).map { result in
            result.replies.compactMap { reply in
                guard let value = reply.response.value, let peer = try? HyperDHTPeer(leniently: value),
                    peer.publicKey == publicKey
                else { return nil }
                return HyperDHTFoundPeer(from: reply.from, peer: peer)
            }
        }
    }

    // MARK: - Values

    /// Stores `value` at its hash on the closest nodes (IMMUTABLE_PUT); returns the hash.
    public func immutablePut(_ value: [UInt8]) -> EventLoopFuture<[UInt8]> {
        let target = HyperDHTSignatures.immutableTarget(value)
        return commit(Self.command(.immutableGet, target: target)) { _, _ in (.immutablePut, value) }.map { _ in target }
    }

    /// The value stored at `target`, from the first node whose value hashes to it (IMMUTABLE_GET); nil when none.
    public func immutableGet(_ target: [UInt8]) -> EventLoopFuture<[UInt8]?> {
        eventLoop.preconditionInEventLoop()
        return walk(Self.command(.immutableGet, target: target)).map { result in
            result.replies.lazy.compactMap(\.response.value).first { HyperDHTSignatures.immutableTarget($0) == target }
        }
    }

    /// Signs `value` with `seq` and stores it under the hash of `keyPair`'s public key (MUTABLE_PUT). Fails with
    /// `refused` when every node that answered refused it (an older seq, or the stored seq with another value).
    public func mutablePut(_ value: [UInt8], seq: UInt64, keyPair: Ed25519.KeyPair) -> EventLoopFuture<Int> {
        let target = HyperDHTSignatures.mutableTarget(keyPair.publicKey)
        let signature = Ed25519.sign(HyperDHTSignatures.mutableSignable(seq: seq, value: value), keyPair: keyPair)
        let put = HyperDHTMutablePut(publicKey: keyPair.publicKey, seq: seq, value: value, signature: signature)
            .compactEncoded()
        var query = Self.command(.mutableGet, target: target)
        query.value = Self.compactUInt(0)
        return commit(query) { _, _ in (.mutablePut, put) }
    }

    /// The newest value `publicKey` signed with a seq of at least `minimumSeq` that any node on the walk holds
    /// (MUTABLE_GET); records whose signature does not verify are ignored. Nil when none.
    public func mutableGet(_ publicKey: [UInt8], minimumSeq: UInt64 = 0) -> EventLoopFuture<HyperDHTMutableRecord?> {
        eventLoop.preconditionInEventLoop()
        var query = Self.command(.mutableGet, target: HyperDHTSignatures.mutableTarget(publicKey))
        query.value = Self.compactUInt(minimumSeq)
        return walk(query).map { result in
            var newest: HyperDHTMutableRecord?
            for value in result.replies.compactMap(\.response.value) {
                guard let record = try? HyperDHTMutableRecord(leniently: value), record.seq >= minimumSeq,
                    newest.map({ record.seq > $0.seq }) ?? true,
                    Ed25519.verify(
                        signature: record.signature,
                        message: HyperDHTSignatures.mutableSignable(seq: record.seq, value: record.value),
                        publicKey: publicKey)
                else { continue }
                newest = record
            }
            return newest
        }
    }

    // MARK: - Walk and commit

    /// Walks with `query`, then sends to each of the closest nodes (the first `limit`) that handed out a token the
    /// request `build` makes for it (nil: none). Succeeds with how many accepted it once at least one did;
    /// `accepted` sees the walk's reply of each node that accepted.
    private func commit(
        _ query: DHTRequest, limit: Int = .max, accepted: ((DHTQuery.Reply) -> Void)? = nil,
        build: @escaping (DHTQuery.Reply, _ token: [UInt8]) -> (HyperDHTRequestHandler.Command, [UInt8])?
    ) -> EventLoopFuture<Int> {
        eventLoop.preconditionInEventLoop()
        return walk(query).flatMap { result in
            var sent: [EventLoopFuture<DHTResponse>] = []
            for reply in result.closest.prefix(limit) {
                guard let token = reply.response.token, let (command, value) = build(reply, token) else { continue }
                var request = Self.command(command, target: query.target ?? [])
                request.token = token
                request.value = value
                let answer = self.request(request, to: reply.from)
                answer.whenSuccess { response in if response.error == 0 { accepted?(reply) } }
                sent.append(answer)
            }
            return EventLoopFuture.whenAllComplete(sent, on: self.eventLoop).flatMapThrowing { results in
                let responses = results.compactMap { try? $0.get() }
                let accepted = responses.filter { $0.error == 0 }.count
                if accepted > 0 { return accepted }
                if let refusal = responses.first { throw Failure.refused(refusal.error) }
                throw Failure.nobodyAnswered
            }
        }
    }

    static func compactUInt(_ value: UInt64) -> [UInt8] {
        var writer = CompactByteWriter(capacity: 9)
        writer.writeUInt(value)
        return writer.bytes
    }

    static func command(_ command: HyperDHTRequestHandler.Command, target: [UInt8]) -> DHTRequest {
        DHTRequest(tid: 0, to: IPv4Endpoint(address: 0, port: 0), isInternal: false, command: command.rawValue, target: target)
    }
}
