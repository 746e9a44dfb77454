import CompactEncoding
import Sodium

/// HyperDHT's commands (hyperdht 6.33 `index.js` `onrequest`): PEER_HANDSHAKE and PEER_HOLEPUNCH, which every node
/// routes (`HyperDHTRouter`), and the storage commands a persistent node serves (`lib/persistent.js`) over a
/// `HyperDHTRecordStore`: LOOKUP returns up to 20 stored peer records (a server's own record among them when it
/// announced itself through us) with the target's bump, FIND_PEER the record of a server that announced itself
/// through us, ANNOUNCE and UNANNOUNCE store or remove a record whose signature covers our id and the token we
/// handed out (a server announcing under the hash of its own key becomes a route instead; an announce carrying only
/// the preimage of an earlier refresh token renews that record), and the mutable and immutable values are stored and
/// served with their checks. Anything malformed, unsigned or for another target is dropped without a reply, as the
/// reference drops it.
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
        /// Send the request on (dht-rpc's `req.relay`: same tid, command and target, this value, no token).
        case relay(value: [UInt8], to: IPv4Endpoint)
        /// Reply with this value to `to` rather than to the requester, with neither token nor closer nodes.
        case replyTo(value: [UInt8], to: IPv4Endpoint)
        /// No reply.
        case drop
        /// Not a command we serve (PLUGIN, unknown, or storage on an ephemeral node): the caller decides.
        case notHandled
    }

    /// What the handler needs to know about the node and the moment.
    public struct Context: Sendable {
        public var ourID: [UInt8]
        /// Only a persistent node stores for others (hyperdht registers its storage handlers then).
        public var isPersistent: Bool
        /// Uptime milliseconds, the store's clock.
        public var now: UInt64
        /// Milliseconds since 1970, what bumps are compared with.
        public var wallClock: UInt64

        public init(ourID: [UInt8], isPersistent: Bool, now: UInt64, wallClock: UInt64) {
            self.ourID = ourID
            self.isPersistent = isPersistent
            self.now = now
            self.wallClock = wallClock
        }
    }

    public static func handle(
        _ request: DHTRequest, from: IPv4Endpoint, context: Context, store: inout HyperDHTRecordStore,
        using generator: inout some RandomNumberGenerator
    ) -> Outcome {
        guard let command = Command(rawValue: request.command) else { return .notHandled }
        let now = context.now
        switch command {
        case .peerHandshake, .peerHolepunch:
            let route = request.target.flatMap { store.route(for: $0, now: now)?.relay }
            switch HyperDHTRouter.route(request, from: from, route: route) {
            case .relay(let value, let to): return .relay(value: value, to: to)
            case .reply(let value, let to): return .replyTo(value: value, to: to)
            case .replyWithCloserNodes: return .reply(value: nil, token: false, closerNodes: true)
            case .drop: return .drop
            }
        default:
            break
        }
        guard context.isPersistent else { return .notHandled }
        switch command {
        case .peerHandshake, .peerHolepunch:
            return .drop
        case .lookup:
            guard let target = request.target else { return .drop }
            var peers = store.lookup(target, now: now, using: &generator)
            if peers.count < 20, let route = store.route(for: target, now: now) { peers.append(route.peer) }
            let value = peers.isEmpty
                ? nil : HyperDHTLookupReply(peers: peers, bump: store.bump(for: target, now: now)).compactEncoded()
            return .reply(value: value, token: true, closerNodes: true)
        case .findPeer:
            guard let target = request.target else { return .drop }
            let route = store.route(for: target, now: now)
            return .reply(value: route?.peer.compactEncoded(), token: true, closerNodes: true)
        case .announce, .unannounce:
            guard let target = request.target, let token = request.token, let value = request.value,
                let announce = try? HyperDHTAnnounce(leniently: value)
            else { return .drop }
            guard let peer = announce.peer else {
                guard command == .announce, let refresh = announce.refresh else { return .drop }
                return renew(target: target, refresh: refresh, from: from, store: &store, now: now)
            }
            guard let signature = announce.signature else { return .drop }
            let signable = HyperDHTSignatures.announceSignable(
                target: target, nodeID: context.ourID, token: token, peer: peer, refresh: announce.refresh,
                unannounce: command == .unannounce)
            guard Ed25519.verify(signature: signature, message: signable, publicKey: peer.publicKey) else {
                return .drop
            }
            let announcesSelf = HyperDHTSignatures.mutableTarget(peer.publicKey) == target
            if command == .unannounce {
                if announcesSelf { store.removeRoute(for: target) }
                store.unannounce(peer.publicKey, under: target)
                return .reply(value: nil, token: false, closerNodes: false)
            }
            if announcesSelf {
                store.setRoute(.init(relay: from, peer: peer), for: target, now: now)
            } else {
                store.raiseBump(announce.bump, for: target, wallClock: context.wallClock, now: now)
                guard store.announce(peer, under: target, now: now) else { return .drop }
            }
            if let refresh = announce.refresh {
                store.setRefreshable(
                    .init(target: target, peer: peer, announcesSelf: announcesSelf), token: refresh, now: now)
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

    /// An announce that carries only a refresh token: the record registered under its hash is renewed (from
    /// wherever the renewal comes, for a route) and the token takes its place in the chain.
    private static func renew(
        target: [UInt8], refresh: [UInt8], from: IPv4Endpoint, store: inout HyperDHTRecordStore, now: UInt64
    ) -> Outcome {
        guard let entry = store.renewRefreshable(token: BLAKE2b.hash256(refresh), renewal: refresh, now: now) else {
            return .drop
        }
        if entry.announcesSelf {
            store.setRoute(.init(relay: from, peer: entry.peer), for: entry.target, now: now)
        } else {
            store.announce(entry.peer, under: entry.target, now: now)
        }
        return .reply(value: nil, token: false, closerNodes: false)
    }
}

extension CompactReader {
    /// One compact uint from the start of `bytes`.
    static func readUInt(from bytes: [UInt8]) throws(CompactEncodingError) -> UInt64 {
        var reader = CompactReader(bytes)
        return try reader.readUInt()
    }
}
