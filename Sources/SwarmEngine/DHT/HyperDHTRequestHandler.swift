import CompactEncoding
import Sodium

/// HyperDHT's commands as a persistent node serves them (hyperdht 6.33 `lib/persistent.js`), over a
/// `HyperDHTRecordStore`: LOOKUP returns up to 20 stored peer records with the bump counter, FIND_PEER the record a
/// server announced for its own key, ANNOUNCE and UNANNOUNCE store or remove a record whose signature covers our id
/// and the token we handed out, and the mutable and immutable values are stored and served with their checks.
/// Anything malformed, unsigned or for another target is dropped without a reply, as the reference drops it.
///
/// Pure: the caller checked the request's token (`DHTRPCResponder`) and sends the outcome.
public enum HyperDHTRequestHandler {
    public enum Command: UInt64, Sendable {
        case peerHandshake = 0, peerHolepunch = 1, findPeer = 2, lookup = 3, announce = 4, unannounce = 5
        case mutablePut = 6, mutableGet = 7, immutablePut = 8, immutableGet = 9
    }

    public enum Outcome: Sendable, Equatable {
        /// Reply with `value`; `token` and `closerNodes` as the reference's reply options.
        case reply(value: [UInt8]?, token: Bool, closerNodes: Bool)
        /// Reply with this error code (no token, closer nodes).
        case error(UInt64)
        /// No reply.
        case drop
        /// Not a storage command (PEER_HANDSHAKE, PEER_HOLEPUNCH, PLUGIN, unknown): the caller decides.
        case notHandled
    }

    public static func handle(
        _ request: DHTRequest, ourID: [UInt8], store: inout HyperDHTRecordStore, now: UInt64,
        using generator: inout some RandomNumberGenerator
    ) -> Outcome {
        guard let command = Command(rawValue: request.command) else { return .notHandled }
        switch command {
        case .peerHandshake, .peerHolepunch:
            return .notHandled
        case .lookup:
            guard let target = request.target else { return .drop }
            let peers = store.lookup(target, now: now, using: &generator)
            let value = peers.isEmpty ? nil : HyperDHTLookupReply(peers: peers).compactEncoded()
            return .reply(value: value, token: true, closerNodes: true)
        case .findPeer:
            guard let target = request.target else { return .drop }
            // The record a server announced under the hash of its own key.
            let own = store.lookup(target, count: .max, now: now, using: &generator)
                .first { HyperDHTSignatures.mutableTarget($0.publicKey) == target }
            return .reply(value: own?.compactEncoded(), token: true, closerNodes: true)
        case .announce, .unannounce:
            guard let target = request.target, let token = request.token, let value = request.value,
                let announce = try? HyperDHTAnnounce(leniently: value), let peer = announce.peer,
                let signature = announce.signature
            else { return .drop }
            // (A refresh without a peer record renews by token; not kept by this store: such announces are dropped,
            // and the announcer signs afresh.)
            let signable = HyperDHTSignatures.announceSignable(
                target: target, nodeID: ourID, token: token, peer: peer, refresh: announce.refresh,
                unannounce: command == .unannounce)
            guard Ed25519.verify(signature: signature, message: signable, publicKey: peer.publicKey) else {
                return .drop
            }
            if command == .announce {
                guard store.announce(peer, under: target, now: now) else { return .drop }
            } else {
                store.unannounce(peer.publicKey, under: target)
            }
            return .reply(value: nil, token: false, closerNodes: false)
        case .mutableGet:
            guard let target = request.target, let value = request.value,
                let seq = try? CompactReader.readUInt(from: value)
            else { return .drop }
            let record = store.mutable(at: target, minimumSeq: seq, now: now)
            return .reply(value: record?.compactEncoded(), token: true, closerNodes: true)
        case .mutablePut:
            guard let target = request.target, request.token != nil, let value = request.value,
                let put = try? HyperDHTMutablePut(leniently: value),
                HyperDHTSignatures.mutableTarget(put.publicKey) == target,
                Ed25519.verify(
                    signature: put.signature, message: HyperDHTSignatures.mutableSignable(seq: put.seq, value: put.value),
                    publicKey: put.publicKey)
            else { return .drop }
            do {
                try store.putMutable(
                    HyperDHTMutableRecord(seq: put.seq, value: put.value, signature: put.signature), at: target, now: now)
            } catch {
                return .error(error.rawValue)
            }
            return .reply(value: nil, token: true, closerNodes: true)
        case .immutablePut:
            guard let target = request.target, request.token != nil, let value = request.value,
                HyperDHTSignatures.immutableTarget(value) == target
            else { return .drop }
            store.putImmutable(value, at: target, now: now)
            return .reply(value: nil, token: true, closerNodes: true)
        case .immutableGet:
            guard let target = request.target else { return .drop }
            return .reply(value: store.immutable(at: target, now: now), token: true, closerNodes: true)
        }
    }
}

extension CompactReader {
    /// One compact uint from the start of `bytes`.
    static func readUInt(from bytes: [UInt8]) throws(CompactEncodingError) -> UInt64 {
        var reader = CompactReader(bytes)
        return try reader.readUInt()
    }
}
