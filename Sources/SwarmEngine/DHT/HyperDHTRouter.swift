import CompactEncoding

/// How a HyperDHT node passes PEER_HANDSHAKE and PEER_HOLEPUNCH between a client and a server it does not host
/// (hyperdht 6.33 `lib/router.js`, the non-server branches): every node does this, persistent or not, for the servers
/// that announced themselves through it (their route: where we saw the announce come from) and for any leg whose
/// message names the next hop.
///
/// A handshake from a client goes to the server's route, or to the relay the client named (`relayAddress`), as
/// FROM_RELAY with the client's address; a second relay passes it to the server as FROM_SECOND_RELAY naming the
/// first; the server's answer (FROM_SERVER) goes back to the client as the REPLY to its original request, carrying
/// the server's address as this node saw it. Holepunch rounds take the same path. A client handshake for a server we
/// know nothing of is answered with closer nodes, to help it route. Anything else (no Noise message, no next hop,
/// the modes only a server or a client acts on, undecodable values) is dropped without a reply, as the reference
/// drops it.
///
/// Pure: the caller looks up the route and performs the effect (a relay keeps the request's tid, command and target
/// and carries no token, as dht-rpc's `req.relay`).
public enum HyperDHTRouter {
    public enum Effect: Sendable, Equatable {
        /// Send the request on to `to` with this value.
        case relay(value: [UInt8], to: IPv4Endpoint)
        /// Answer the request with this value, to `to` (the client, when the answer comes back from a server), with
        /// neither token nor closer nodes.
        case reply(value: [UInt8], to: IPv4Endpoint)
        /// Answer the requester with no value but our closest nodes to the target.
        case replyWithCloserNodes
        case drop
    }

    /// The effect of a PEER_HANDSHAKE (`command` 0) or PEER_HOLEPUNCH (1) `request` from `from`, where `route` is the
    /// address the target's server announced itself from, if it did so through us.
    public static func route(_ request: DHTRequest, from: IPv4Endpoint, route: IPv4Endpoint?) -> Effect {
        guard let value = request.value else { return .drop }
        switch HyperDHTRequestHandler.Command(rawValue: request.command) {
        case .peerHandshake:
            guard let handshake = try? HyperDHTHandshake(leniently: value) else { return .drop }
            return routeHandshake(handshake, from: from, route: route)
        case .peerHolepunch:
            guard let holepunch = try? HyperDHTHolepunch(leniently: value) else { return .drop }
            return routeHolepunch(holepunch, from: from, route: route)
        default:
            return .drop
        }
    }

    private static func routeHandshake(_ handshake: HyperDHTHandshake, from: IPv4Endpoint, route: IPv4Endpoint?) -> Effect {
        // compact-encoding decodes an empty buffer as null: no Noise message.
        guard !handshake.noise.isEmpty else { return .drop }
        switch HyperDHTRelayMode(rawValue: handshake.mode) {
        case .fromClient:
            guard let next = handshake.relayAddress ?? route else { return .replyWithCloserNodes }
            let relayed = HyperDHTHandshake(
                mode: HyperDHTRelayMode.fromRelay.rawValue, noise: handshake.noise, peerAddress: from)
            return .relay(value: relayed.compactEncoded(), to: next)
        case .fromRelay:
            guard let route else { return .drop }
            let relayed = HyperDHTHandshake(
                mode: HyperDHTRelayMode.fromSecondRelay.rawValue, noise: handshake.noise,
                peerAddress: handshake.peerAddress, relayAddress: from)
            return .relay(value: relayed.compactEncoded(), to: route)
        case .fromServer:
            guard let client = handshake.peerAddress else { return .drop }
            let answer = HyperDHTHandshake(mode: HyperDHTRelayMode.reply.rawValue, noise: handshake.noise, peerAddress: from)
            return .reply(value: answer.compactEncoded(), to: client)
        case .fromSecondRelay, .reply, nil:
            return .drop
        }
    }

    /// How a server answers a handshake that reached it (router.js's server branch), given its Noise reply: straight
    /// back to a client that asked it directly (`REPLY` naming no peer, so the client knows it was not relayed), or
    /// as `FROM_SERVER` to the relay it came through, or to the first relay a second relay named.
    public static func answer(_ handshake: HyperDHTHandshake, reply noise: [UInt8], from: IPv4Endpoint) -> Effect {
        switch HyperDHTRelayMode(rawValue: handshake.mode) {
        case .fromClient:
            return .reply(value: HyperDHTHandshake(mode: HyperDHTRelayMode.reply.rawValue, noise: noise).compactEncoded(), to: from)
        case .fromRelay:
            let value = HyperDHTHandshake(
                mode: HyperDHTRelayMode.fromServer.rawValue, noise: noise, peerAddress: handshake.peerAddress)
            return .relay(value: value.compactEncoded(), to: from)
        case .fromSecondRelay:
            guard let relayAddress = handshake.relayAddress else { return .drop }
            let value = HyperDHTHandshake(
                mode: HyperDHTRelayMode.fromServer.rawValue, noise: noise, peerAddress: handshake.peerAddress)
            return .relay(value: value.compactEncoded(), to: relayAddress)
        case .fromServer, .reply, nil:
            return .drop
        }
    }

    private static func routeHolepunch(_ holepunch: HyperDHTHolepunch, from: IPv4Endpoint, route: IPv4Endpoint?) -> Effect {
        switch HyperDHTRelayMode(rawValue: holepunch.mode) {
        case .fromClient:
            guard let next = holepunch.peerAddress ?? route else { return .drop }
            let relayed = HyperDHTHolepunch(
                mode: HyperDHTRelayMode.fromRelay.rawValue, id: holepunch.id, payload: holepunch.payload, peerAddress: from)
            return .relay(value: relayed.compactEncoded(), to: next)
        case .fromServer:
            // The reference replies to the named client, or to the sender when none is named.
            let answer = HyperDHTHolepunch(
                mode: HyperDHTRelayMode.reply.rawValue, id: holepunch.id, payload: holepunch.payload, peerAddress: from)
            return .reply(value: answer.compactEncoded(), to: holepunch.peerAddress ?? from)
        case .fromRelay, .fromSecondRelay, .reply, nil:
            return .drop
        }
    }
}
