import CompactEncoding
import NIOCore
import Sodium

#if canImport(Glibc)
import Glibc
#endif

/// A dht-rpc node on two UDX sockets of a `UDXNode` (dht-rpc's server and client socket): the thin shell around
/// the pure parts — it turns datagrams into `DHTRPCResponder` and `DHTQuery` events, sends what they ask for through
/// its `DHTRequestTable`, and drives their clocks (the request timeouts, the 750 ms drain that also rotates the
/// tokens, the 5 s tick of the table's bookkeeping).
///
/// It serves dht-rpc's own commands, bootstraps, walks, fills its routing table from the network and samples its
/// address; it routes PEER_HANDSHAKE and PEER_HOLEPUNCH (`HyperDHTRouter`) and, when persistent, serves HyperDHT's
/// storage commands (`HyperDHTRequestHandler`). HyperDHT's client operations are in `HyperDHTClient.swift`.
///
/// Everything runs on the UDX node's event loop, as the UDX node itself.
public final class DHTNode: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The address to bind the server socket to; a persistent node needs the concrete address others reach it
        /// at (its id is the hash of it).
        public var host: String
        public var port: Int
        /// Where to start: at least one node unless this is the first node of a network.
        public var bootstrap: [IPv4Endpoint]
        /// Persistent from the start (what `pearircd dht-node --persistent` and hyperdht's `bootstrapper` do): sends
        /// its id, answers from the server socket and is added to other nodes' tables.
        public var persistent: Bool
        /// The clock stored records age by, in milliseconds (uptime; tests move it to see records expire).
        public var storeClock: @Sendable () -> UInt64 = DHTNode.now

        public init(host: String, port: Int = 0, bootstrap: [IPv4Endpoint], persistent: Bool = false) {
            self.host = host
            self.port = port
            self.bootstrap = bootstrap
            self.persistent = persistent
        }
    }

    public enum Failure: Error, Sendable, Equatable {
        case notStarted
        case notIPv4(String)
        /// No node answered at all.
        case nobodyAnswered
        /// Every node that answered refused, with this error (hyperdht's `ERROR`: 16 SEQ_REUSED, 17 SEQ_TOO_LOW).
        case refused(UInt64)
    }

    private enum Owner {
        case query(Int)
        case ping(EventLoopPromise<DHTResponse>)
        case ignore
    }

    private struct Walk {
        var query: DHTQuery
        var request: DHTRequest
        var replies: [DHTQuery.Reply] = []
        var promise: EventLoopPromise<WalkResult>
        var onReply: ((DHTQuery.Reply) -> Void)?
    }

    /// What a walk found: the closest nodes that answered, and every successful reply on the way (a LOOKUP's peers
    /// come from all of them).
    public struct WalkResult: Sendable {
        public var closest: [DHTQuery.Reply]
        public var replies: [DHTQuery.Reply]
    }

    public let udx: UDXNode
    public let configuration: Configuration
    public var eventLoop: any EventLoop { udx.eventLoop }
    public private(set) var serverSocket: UDXSocket?
    public private(set) var clientSocket: UDXSocket?
    public private(set) var table: DHTRoutingTable
    public private(set) var nat = DHTNATSampler()
    public private(set) var isPersistent: Bool
    private var tokens = DHTTokens()
    /// What we store for others once persistent.
    private var store: HyperDHTRecordStore
    private var random = SystemRandomNumberGenerator()
    /// PEER_HANDSHAKE and PEER_HOLEPUNCH messages this node passed on between clients and servers.
    public private(set) var relayedMessages = 0
    /// Requests answered per sender.
    public private(set) var limiter = DHTRequestLimiter()
    private var requests = DHTRequestTable()
    private var owners: [UInt16: (owner: Owner, endpoint: IPv4Endpoint)] = [:]
    private var walks: [Int: Walk] = [:]
    private var nextWalk = 0
    private var tick: UInt64 = 1
    private var timer: Scheduled<Void>?
    private var timerDeadline: UInt64?
    private var drainTask: RepeatedTask?
    private var tickTask: RepeatedTask?

    public init(udx: UDXNode, configuration: Configuration) {
        self.udx = udx
        self.configuration = configuration
        isPersistent = configuration.persistent
        store = HyperDHTRecordStore(now: configuration.storeClock())
        table = DHTRoutingTable(id: RandomBytes.generate(count: 32))
    }

    /// How many announced peer records and server routes this node holds for others.
    public var storedRecords: Int { store.recordCount }
    public var storedRoutes: Int { store.routeCount }

    /// Our id: the hash of our public address once persistent, else the random id our table is built around.
    public var id: [UInt8] { table.id }

    /// The address the server socket is bound to.
    public var address: IPv4Endpoint? {
        guard let bound = serverSocket?.localAddress, let host = bound.ipAddress, let port = bound.port else { return nil }
        return IPv4Endpoint(host: host, port: UInt16(port))
    }

    // MARK: - Lifecycle

    /// Binds both sockets and starts the clocks. On the event loop.
    public func start() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        return udx.bind(host: configuration.host, port: configuration.port).flatMap { server in
            self.udx.bind(host: self.configuration.host, port: 0).map { client in
                self.serverSocket = server
                self.clientSocket = client
                server.onMessage = { [weak self] buffer, from in self?.received(buffer, from: from, on: server) }
                client.onMessage = { [weak self] buffer, from in self?.received(buffer, from: from, on: client) }
                if self.isPersistent, let address = self.address {
                    // Persistent: the id is the hash of the address others reach us at.
                    self.table = DHTRoutingTable(id: DHTNodeID.of(address))
                }
                self.drainTask = self.eventLoop.scheduleRepeatedTask(
                    initialDelay: .milliseconds(750), delay: .milliseconds(750)
                ) { [weak self] _ in self?.drain() }
                self.tickTask = self.eventLoop.scheduleRepeatedTask(
                    initialDelay: .seconds(5), delay: .seconds(5)
                ) { [weak self] _ in self?.tick += 1 }
            }
        }
    }

    /// Walks toward our own id from the bootstrap nodes (dht-rpc's bootstrap), filling the table on the way.
    public func bootstrap() -> EventLoopFuture<Void> {
        findNode(id).map { _ in }
    }

    /// Stops the clocks and fails what is in flight; the UDX node's owner closes the sockets.
    public func stop() {
        eventLoop.preconditionInEventLoop()
        drainTask?.cancel()
        tickTask?.cancel()
        timer?.cancel()
        for (_, walk) in walks { walk.promise.fail(Failure.notStarted) }
        walks.removeAll()
        for (_, entry) in owners { if case .ping(let promise) = entry.owner { promise.fail(Failure.notStarted) } }
        owners.removeAll()
    }

    // MARK: - Queries

    /// The closest nodes to `target` that answered a FIND_NODE walk.
    public func findNode(_ target: [UInt8]) -> EventLoopFuture<[DHTQuery.Reply]> {
        eventLoop.preconditionInEventLoop()
        let request = DHTRequest(tid: 0, to: IPv4Endpoint(address: 0, port: 0), isInternal: true, command: 2, target: target)
        return walk(request).map(\.closest)
    }

    /// Pings one node (dht-rpc's PING); the reply tells it our address as it sees it.
    public func ping(_ endpoint: IPv4Endpoint) -> EventLoopFuture<DHTResponse> {
        request(DHTRequest(tid: 0, to: endpoint, isInternal: true, command: 0), to: endpoint)
    }

    /// One request to one node (with retries, as every request); the future fails when it never answers.
    func request(_ request: DHTRequest, to endpoint: IPv4Endpoint) -> EventLoopFuture<DHTResponse> {
        eventLoop.preconditionInEventLoop()
        let promise = eventLoop.makePromise(of: DHTResponse.self)
        send(request, to: endpoint, owner: .ping(promise))
        return promise.futureResult
    }

    /// A walk toward `request.target` sending `request` to each node on the way; `onReply` sees each successful
    /// reply as it comes.
    func walk(_ request: DHTRequest, onReply: ((DHTQuery.Reply) -> Void)? = nil) -> EventLoopFuture<WalkResult> {
        let promise = eventLoop.makePromise(of: WalkResult.self)
        guard serverSocket != nil else {
            promise.fail(Failure.notStarted)
            return promise.futureResult
        }
        let number = nextWalk
        nextWalk += 1
        var query = DHTQuery(target: request.target ?? id, ownID: id, k: table.k)
        let effects = query.start(
            table: table.closest(to: request.target ?? id), bootstrap: configuration.bootstrap)
        walks[number] = Walk(query: query, request: request, promise: promise, onReply: onReply)
        perform(effects, walk: number)
        return promise.futureResult
    }

    private func perform(_ effects: [DHTQuery.Effect], walk number: Int) {
        for effect in effects {
            switch effect {
            case .visit(let endpoint):
                guard let walk = walks[number] else { return }
                send(walk.request, to: endpoint, owner: .query(number))
            case .downHint(let to, let down):
                send(
                    DHTRequest(tid: 0, to: to, isInternal: true, command: 3, value: down.compactEncoded()), to: to,
                    owner: .ignore)
            case .reply(let reply):
                walks[number]?.replies.append(reply)
                walks[number]?.onReply?(reply)
            case .finished(let replies):
                guard let walk = walks.removeValue(forKey: number) else { return }
                if replies.isEmpty && walk.query.successes == 0 {
                    walk.promise.fail(Failure.nobodyAnswered)
                } else {
                    walk.promise.succeed(WalkResult(closest: replies, replies: walk.replies))
                }
            }
        }
    }

    // MARK: - Sending

    /// Sends a request from the socket dht-rpc would use (the server socket once persistent, else the client
    /// socket), with our id when persistent.
    private func send(_ template: DHTRequest, to endpoint: IPv4Endpoint, owner: Owner) {
        var request = template
        let socket: DHTRequestTable.Socket = isPersistent ? .server : .client
        request.id = isPersistent ? id : nil
        var actions: [DHTRequestTable.Action] = []
        let tid = requests.send(request, to: endpoint, from: socket, now: Self.now(), into: &actions)
        owners[tid] = (owner, endpoint)
        carryOut(actions)
    }

    private func carryOut(_ actions: [DHTRequestTable.Action]) {
        for action in actions {
            switch action {
            case .transmit(let bytes, let to, let from):
                transmit(bytes, to: to, from: from == .server ? serverSocket : clientSocket)
            case .retrying(let tid):
                guard let entry = owners[tid], case .query(let number) = entry.owner, var walk = walks[number] else {
                    continue
                }
                let effects = walk.query.cycled(entry.endpoint, table: table.closest(to: walk.query.target))
                walks[number] = walk
                perform(effects, walk: number)
            case .timedOut(let tid, _):
                guard let entry = owners.removeValue(forKey: tid) else { continue }
                // A node of our table that stopped answering leaves it (dht-rpc's `_ontimeout`).
                table.remove(DHTNodeID.of(entry.endpoint))
                switch entry.owner {
                case .query(let number):
                    guard var walk = walks[number] else { continue }
                    let effects = walk.query.failed(entry.endpoint, timedOut: true, table: table.closest(to: walk.query.target))
                    walks[number] = walk
                    perform(effects, walk: number)
                case .ping(let promise):
                    promise.fail(Failure.nobodyAnswered)
                case .ignore:
                    break
                }
            }
        }
        rearmTimer()
    }

    private func transmit(_ bytes: [UInt8], to endpoint: IPv4Endpoint, from socket: UDXSocket?) {
        guard let socket, let address = try? SocketAddress(ipAddress: endpoint.host, port: Int(endpoint.port)) else {
            return
        }
        socket.send(ByteBuffer(bytes: bytes), to: address)
    }

    // MARK: - Receiving

    private func received(_ buffer: ByteBuffer, from address: SocketAddress, on socket: UDXSocket) {
        guard let host = address.ipAddress, let port = address.port, port > 0,
            let from = IPv4Endpoint(host: host, port: UInt16(port)),
            let message = try? DHTMessage(decoding: Array(buffer.readableBytesView))
        else { return }
        switch message {
        case .request(let request):
            guard limiter.allows(from, now: Self.now()) else { return }
            let senderID = DHTNodeID.validated(request.id, from: from)
            if let senderID { learn(senderID, at: from, seenUs: request.to, sample: socket === expectedSocket) }
            let context = DHTRPCResponder.Context(
                id: id, isPersistent: isPersistent, onServerSocket: socket === serverSocket, tokens: tokens,
                table: table, tick: tick)
            for effect in DHTRPCResponder.respond(to: request, from: from, context: context) {
                switch effect {
                case .reply(let bytes, let to):
                    transmit(bytes, to: to, from: socket)
                case .delayedReply(let bytes, let to, let delay):
                    eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) { [weak self] in
                        self?.transmit(bytes, to: to, from: socket)
                    }
                case .check(let nodeID):
                    guard let node = table.node(nodeID) else { continue }
                    table.update(nodeID) { $0.pinged = self.tick; $0.downHints += 1 }
                    ping(node.endpoint).whenFailure { [weak self] _ in _ = self?.table.remove(nodeID) }
                case .application:
                    let handlerContext = HyperDHTRequestHandler.Context(
                        ourID: id, isPersistent: isPersistent, now: configuration.storeClock(), wallClock: Self.wallClock())
                    let outcome = HyperDHTRequestHandler.handle(
                        request, from: from, context: handlerContext, store: &store, using: &random)
                    switch outcome {
                    case .reply(let value, let token, let closerNodes):
                        transmit(
                            DHTRPCResponder.reply(
                                to: request, value: value, token: token, closerNodes: closerNodes, to: from, context: context),
                            to: from, from: socket)
                    case .replyTo(let value, let to):
                        relayedMessages += 1
                        transmit(DHTRPCResponder.reply(to: request, value: value, to: to, context: context), to: to, from: socket)
                    case .relay(let value, let to):
                        relayedMessages += 1
                        transmit(DHTRPCResponder.relay(request, value: value, to: to, context: context), to: to, from: socket)
                    case .error(let code):
                        transmit(
                            DHTRPCResponder.reply(to: request, error: code, closerNodes: true, to: from, context: context),
                            to: from, from: socket)
                    case .drop:
                        break
                    case .notHandled:
                        transmit(
                            DHTRPCResponder.reply(
                                to: request, error: DHTRPCResponder.unknownCommand, closerNodes: request.target != nil,
                                to: from, context: context),
                            to: from, from: socket)
                    }
                }
            }
        case .response(let response):
            guard let outstanding = requests.settle(response), let entry = owners.removeValue(forKey: response.tid) else {
                return
            }
            rearmTimer()
            let senderID = DHTNodeID.validated(response.id, from: from)
            if let senderID { learn(senderID, at: from, seenUs: response.to, sample: true) }
            _ = outstanding
            switch entry.owner {
            case .query(let number):
                guard var walk = walks[number] else { return }
                let effects = walk.query.received(
                    response, from: from, id: senderID, table: table.closest(to: walk.query.target))
                walks[number] = walk
                perform(effects, walk: number)
            case .ping(let promise):
                promise.succeed(response)
            case .ignore:
                break
            }
        }
    }

    /// The socket replies to our requests arrive on.
    private var expectedSocket: UDXSocket? { isPersistent ? serverSocket : clientSocket }

    /// A node that proved its id: into the table (or its bookkeeping refreshed), and its view of our address into
    /// the NAT sampler (once per node, as dht-rpc samples a node when it is added).
    private func learn(_ nodeID: [UInt8], at endpoint: IPv4Endpoint, seenUs: IPv4Endpoint, sample: Bool) {
        guard nodeID != id else { return }
        if table.node(nodeID) != nil {
            table.update(nodeID) { $0.pinged = self.tick; $0.seen = self.tick }
            return
        }
        let node = DHTContact(id: nodeID, endpoint: endpoint, added: tick, pinged: tick, seen: tick)
        if case .added = table.add(node), sample { nat.add(seenUs) }
    }

    // MARK: - Clocks

    private func drain() {
        tokens.tick()
        var actions: [DHTRequestTable.Action] = []
        requests.drain(now: Self.now(), into: &actions)
        carryOut(actions)
    }

    private func rearmTimer() {
        let deadline = requests.nextDeadline
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timer = nil
        timerDeadline = deadline
        guard let deadline else { return }
        timer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(deadline * 1_000_000)) { [weak self] in
            guard let self else { return }
            timerDeadline = nil
            var actions: [DHTRequestTable.Action] = []
            requests.timeout(now: max(deadline, Self.now()), into: &actions)
            carryOut(actions)
        }
    }

    @Sendable static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1_000_000 }

    /// Milliseconds since 1970 (announce bumps are wall-clock times).
    static func wallClock() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(max(0, spec.tv_sec)) * 1000 + UInt64(max(0, spec.tv_nsec)) / 1_000_000
    }
}
