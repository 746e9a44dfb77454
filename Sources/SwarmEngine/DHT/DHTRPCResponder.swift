import CompactEncoding

/// How a dht-rpc node answers requests (dht-rpc 6.26 `index.js` `_onrequest` and `lib/io.js` `_sendReply`): a
/// token that is not one we handed out gets INVALID_TOKEN; dht-rpc's own commands are answered here (PING, PING_NAT
/// to the port the requester names, FIND_NODE with our closest nodes, DOWN_HINT, DELAYED_PING after the asked
/// delay); anything else is the application's (HyperDHT's) to answer, or UNKNOWN_COMMAND.
///
/// A reply carries our id only when we are persistent and it leaves from the server socket; closer nodes only when
/// the request had a target and the command wants them. Pure: the caller owns the table and tokens and performs the
/// effects.
public enum DHTRPCResponder {
    public static let unknownCommand: UInt64 = 1
    public static let invalidToken: UInt64 = 2
    /// dht-rpc's `maxPingDelay`: a DELAYED_PING asking for more is ignored.
    public static let maximumPingDelay: UInt32 = 10_000

    public enum InternalCommand: UInt64, Sendable {
        case ping = 0, pingNAT = 1, findNode = 2, downHint = 3, delayedPing = 4
    }

    /// What answering a request takes.
    public enum Effect: Sendable, Equatable {
        /// Send this reply to `to` from the socket the request came in on.
        case reply([UInt8], to: IPv4Endpoint)
        /// The same, after `delay` milliseconds.
        case delayedReply([UInt8], to: IPv4Endpoint, delay: UInt32)
        /// A node reported down: ping it, and drop it if it does not answer (the caller rate-limits checks).
        case check([UInt8])
        /// Not dht-rpc's own command: the application answers it (or replies UNKNOWN_COMMAND).
        case application
    }

    /// What the responder needs to know about us.
    public struct Context {
        public var id: [UInt8]
        /// A persistent node sends its id (from the server socket); an ephemeral one never does.
        public var isPersistent: Bool
        public var onServerSocket: Bool
        public var tokens: DHTTokens
        public var table: DHTRoutingTable
        /// The node's tick (its 5 s clock), which the table's bookkeeping counts in.
        public var tick: UInt64

        public init(
            id: [UInt8], isPersistent: Bool, onServerSocket: Bool, tokens: DHTTokens, table: DHTRoutingTable,
            tick: UInt64 = 0
        ) {
            self.id = id
            self.isPersistent = isPersistent
            self.onServerSocket = onServerSocket
            self.tokens = tokens
            self.table = table
            self.tick = tick
        }
    }

    /// The effects of `request` from `from`.
    public static func respond(to request: DHTRequest, from: IPv4Endpoint, context: Context) -> [Effect] {
        if let token = request.token, !context.tokens.accepts(token, from: from) {
            return [
                .reply(
                    reply(to: request, error: invalidToken, token: true, closerNodes: true, to: from, context: context),
                    to: from)
            ]
        }
        guard request.isInternal else { return [.application] }
        switch InternalCommand(rawValue: request.command) {
        case .ping:
            return [.reply(reply(to: request, to: from, context: context), to: from)]
        case .pingNAT:
            // The reply goes to the requester's other socket, to show whether it can be reached there.
            guard let value = request.value, value.count >= 2 else { return [] }
            let port = UInt16(value[0]) | UInt16(value[1]) << 8
            guard port != 0 else { return [] }
            let other = IPv4Endpoint(address: from.address, port: port)
            return [.reply(reply(to: request, to: other, context: context), to: other)]
        case .findNode:
            guard request.target != nil else { return [] }
            return [.reply(reply(to: request, closerNodes: true, to: from, context: context), to: from)]
        case .downHint:
            guard let value = request.value, let down = try? IPv4Endpoint(leniently: value) else { return [] }
            let named = DHTNodeID.of(down)
            var effects: [Effect] = []
            if let node = context.table.node(named), node.downHints == 0 || node.pinged < context.tick {
                effects.append(.check(named))
            }
            effects.append(.reply(reply(to: request, to: from, context: context), to: from))
            return effects
        case .delayedPing:
            guard let value = request.value, value.count >= 4 else { return [] }
            let delay = UInt32(value[0]) | UInt32(value[1]) << 8 | UInt32(value[2]) << 16 | UInt32(value[3]) << 24
            guard delay <= maximumPingDelay else { return [] }
            return [.delayedReply(reply(to: request, to: from, context: context), to: from, delay: delay)]
        case nil:
            return [
                .reply(
                    reply(
                        to: request, error: unknownCommand, closerNodes: request.target != nil, to: from,
                        context: context),
                    to: from)
            ]
        }
    }

    /// A reply datagram as `_sendReply` builds it.
    public static func reply(
        to request: DHTRequest, error: UInt64 = 0, value: [UInt8]? = nil, token: Bool = false,
        closerNodes wantsCloserNodes: Bool = false, to destination: IPv4Endpoint, context: Context
    ) -> [UInt8] {
        var nodes: [IPv4Endpoint]?
        if wantsCloserNodes, let target = request.target {
            let closest = context.table.closest(to: target).map(\.endpoint)
            nodes = closest.isEmpty ? nil : closest
        }
        let response = DHTResponse(
            tid: request.tid, to: destination, id: context.isPersistent && context.onServerSocket ? context.id : nil,
            token: token ? context.tokens.token(for: destination) : nil, closerNodes: nodes, error: error, value: value)
        return DHTMessage.response(response).encoded()
    }

    /// `request` passed on to `destination` with a new value, as dht-rpc's `req.relay` sends it: the same tid,
    /// command and target, no token, our id when persistent and leaving from the server socket.
    public static func relay(_ request: DHTRequest, value: [UInt8], to destination: IPv4Endpoint, context: Context) -> [UInt8] {
        let relayed = DHTRequest(
            tid: request.tid, to: destination, id: context.isPersistent && context.onServerSocket ? context.id : nil,
            token: nil, isInternal: request.isInternal, command: request.command, target: request.target, value: value)
        return DHTMessage.request(relayed).encoded()
    }
}
