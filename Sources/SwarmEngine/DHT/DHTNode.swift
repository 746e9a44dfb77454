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
        /// Never persistent, whatever the network (dht-rpc's `ephemeral: true`); otherwise adaptive unless `persistent`.
        public var ephemeral = false
        /// The quick firewall check during bootstrap (dht-rpc's `quickFirewall`); off, a node stays firewalled until
        /// its first full check (tests use it to have a firewalled node on loopback).
        public var quickFirewall = true
        /// The node's tick (dht-rpc's 5 s; tests shorten it to see the adaptive switch without waiting 20 minutes).
        public var tickInterval: TimeAmount = .seconds(5)
        /// The clock stored records age by, in milliseconds (uptime; tests move it to see records expire).
        public var storeClock: @Sendable () -> UInt64 = DHTNode.now

        public init(
            host: String, port: Int = 0, bootstrap: [IPv4Endpoint], persistent: Bool = false, ephemeral: Bool = false
        ) {
            self.host = host
            self.port = port
            self.bootstrap = bootstrap
            self.persistent = persistent
            self.ephemeral = ephemeral
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
        /// A single request's answer, with where it came from.
        case request(EventLoopPromise<(DHTResponse, IPv4Endpoint)>)
        case ignore
    }

    private struct Walk {
        var query: DHTQuery
        var request: DHTRequest
        var replies: [DHTQuery.Reply] = []
        var promise: EventLoopPromise<WalkResult>
        var onReply: ((DHTQuery.Reply) -> Void)?
        /// A background walk (bootstrap, refresh) yields to other traffic: 2 requests at once while the node has
        /// three or more in flight, 10 otherwise (`_backgroundQuery`).
        var background = false
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
    /// Ephemeral or persistent, firewalled or not, and the tick-driven upkeep (`DHTNetworkState`).
    public private(set) var network: DHTNetworkState
    /// Persistent: sends its id, is added to other nodes' tables and stores for them.
    public var isPersistent: Bool { !network.isEphemeral }
    /// Firewalled: replies reach only our client socket, so requests leave from it.
    public var isFirewalled: Bool { network.isFirewalled }
    /// Called after each check of the node's network, whatever it found (so also when the node stops being
    /// firewalled or becomes persistent).
    public var onNetworkUpdate: ((DHTNode) -> Void)?
    /// The bootstrap walk is over.
    public private(set) var isBootstrapped = false
    private var tokens = DHTTokens()
    /// What we store for others once persistent.
    private var store: HyperDHTRecordStore
    private var random = SystemRandomNumberGenerator()
    /// Our own HyperDHT servers, by target.
    private var servers: [[UInt8]: HyperDHTServer] = [:]
    /// Hole-punching sockets in use (`bindPunchingSocket`), by number, and the number of the next.
    var punchingSockets: [Int: UDXSocket] = [:]
    var probeHandlers: [Int: (UDXSocket, IPv4Endpoint) -> Void] = [:]
    var nextPunchingSocket = 0
    /// Punches against or from a randomising NAT under way, and when the last one ended: hyperdht allows one at a
    /// time, 20 s apart (each sprays hundreds of probes through the NATs), and so do we.
    var randomPunches = 0
    var lastRandomPunch: NIODeadline?
    static let randomPunchLimit = 1
    var randomPunchInterval = TimeAmount.seconds(20)
    var mayPunchRandomly: Bool {
        randomPunches < Self.randomPunchLimit && (lastRandomPunch.map { .now() - $0 >= randomPunchInterval } ?? true)
    }
    /// PEER_HANDSHAKE and PEER_HOLEPUNCH messages this node passed on between clients and servers.
    public private(set) var relayedMessages = 0
    /// Requests answered per sender.
    public private(set) var limiter = DHTRequestLimiter()
    private var requests = DHTRequestTable()
    private var owners: [UInt16: (owner: Owner, endpoint: IPv4Endpoint)] = [:]
    private var walks: [Int: Walk] = [:]
    private var nextWalk = 0
    private var tick: UInt64 { network.tick }
    /// Hosts that reached our server socket while a firewall check is running.
    private var hostsOnServerSocket: Set<UInt32>?
    private var checkingNetwork = false
    private enum QuickFirewallProbe { case notWanted, wanted, sent, answered }
    private var quickFirewallProbe = QuickFirewallProbe.notWanted
    /// Bootstrap nodes whose view of our address was sampled (`_sampleBootstrapMaybe`).
    private var sampledBootstrapNodes: Set<IPv4Endpoint> = []
    private var timer: Scheduled<Void>?
    private var timerDeadline: UInt64?
    private var drainTask: RepeatedTask?
    private var tickTask: RepeatedTask?
    /// When the last tick ran (wall-clock milliseconds), to notice that the machine slept.
    private var lastTick: UInt64?

    public init(udx: UDXNode, configuration: Configuration) {
        self.udx = udx
        self.configuration = configuration
        network = DHTNetworkState(
            mode: configuration.persistent ? .persistent : configuration.ephemeral ? .ephemeral : .adaptive,
            tickOffset: UInt64.random(in: 0..<100), refreshOffset: Int.random(in: 1...DHTNetworkState.refreshTicks))
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
        serverSocket?.localAddress.flatMap(IPv4Endpoint.init)
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
                    // Persistent: the id is the hash of the address others reach us at (and that is our address,
                    // as `bootstrapper` seeds its sampler).
                    self.table = DHTRoutingTable(id: DHTNodeID.of(address))
                    self.nat.add(address)
                }
                self.drainTask = self.eventLoop.scheduleRepeatedTask(
                    initialDelay: .milliseconds(750), delay: .milliseconds(750)
                ) { [weak self] _ in self?.drain() }
                let interval = self.configuration.tickInterval
                self.tickTask = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) {
                    [weak self] _ in self?.onTick()
                }
            }
        }
    }

    /// Walks toward our own id from the bootstrap nodes (dht-rpc's `_bootstrap`), filling the table on the way. A
    /// firewalled node asks the first node that answers to PING_NAT its server socket; if that reaches it, it checks
    /// whether it is firewalled at all (and walks again if its id changed).
    public func bootstrap() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        return bootstrapRound(1)
    }

    private func bootstrapRound(_ round: Int) -> EventLoopFuture<Void> {
        quickFirewallProbe = network.wantsQuickFirewallCheck && configuration.quickFirewall ? .wanted : .notWanted
        return walk(findNodeRequest(id), background: true) { [weak self] reply in
            guard let self, case .wanted = quickFirewallProbe else { return }
            // Simple quick heuristic, as the reference's: one PING_NAT to the first node that answers.
            quickFirewallProbe = .sent
            request(pingNATRequest(), to: reply.from).whenSuccess { [weak self] _ in
                self?.quickFirewallProbe = .answered
            }
        }.flatMap { _ -> EventLoopFuture<Void> in
            // As the reference, only a pong that came before the walk ended counts.
            guard case .answered = self.quickFirewallProbe, round < 2 else { return self.eventLoop.makeSucceededVoidFuture() }
            return self.updateNetworkState(onlyFirewall: true).flatMap { changed in
                changed ? self.bootstrapRound(round + 1) : self.eventLoop.makeSucceededVoidFuture()
            }
        }.always { _ in
            self.quickFirewallProbe = .notWanted
            self.isBootstrapped = true
        }
    }

    /// Stops the clocks and fails what is in flight; the UDX node's owner closes the sockets.
    public func stop() {
        eventLoop.preconditionInEventLoop()
        drainTask?.cancel()
        tickTask?.cancel()
        timer?.cancel()
        for (_, walk) in walks { walk.promise.fail(Failure.notStarted) }
        walks.removeAll()
        for (_, entry) in owners {
            switch entry.owner {
            case .request(let promise): promise.fail(Failure.notStarted)
            case .query, .ignore: break
            }
        }
        for server in servers.values { _ = server.close() }
        owners.removeAll()
    }

    // MARK: - Queries

    /// The closest nodes to `target` that answered a FIND_NODE walk.
    public func findNode(_ target: [UInt8]) -> EventLoopFuture<[DHTQuery.Reply]> {
        eventLoop.preconditionInEventLoop()
        return walk(findNodeRequest(target)).map(\.closest)
    }

    private func findNodeRequest(_ target: [UInt8]) -> DHTRequest {
        DHTRequest(tid: 0, to: IPv4Endpoint(address: 0, port: 0), isInternal: true, command: 2, target: target)
    }

    /// PING_NAT asking the node to answer to our server socket's port.
    private func pingNATRequest() -> DHTRequest {
        let port = address?.port ?? 0
        return DHTRequest(
            tid: 0, to: IPv4Endpoint(address: 0, port: 0), isInternal: true, command: 1,
            value: [UInt8(port & 0xff), UInt8(port >> 8)])
    }

    /// Pings one node (dht-rpc's PING); the reply tells it our address as it sees it.
    public func ping(_ endpoint: IPv4Endpoint) -> EventLoopFuture<DHTResponse> {
        request(DHTRequest(tid: 0, to: endpoint, isInternal: true, command: 0), to: endpoint)
    }

    /// One request to one node (with retries, as every request); the future fails when it never answers.
    func request(_ request: DHTRequest, to endpoint: IPv4Endpoint) -> EventLoopFuture<DHTResponse> {
        requestWithSource(request, to: endpoint).map(\.0)
    }

    /// One request to one node; the answer with the address it came from (hyperdht checks a relayed answer came
    /// from the node it asked). `socket` sends it from a hole-punching socket instead of the node's own.
    func requestWithSource(
        _ request: DHTRequest, to endpoint: IPv4Endpoint, from socket: DHTRequestTable.Socket? = nil
    ) -> EventLoopFuture<(DHTResponse, IPv4Endpoint)> {
        eventLoop.preconditionInEventLoop()
        let promise = eventLoop.makePromise(of: (DHTResponse, IPv4Endpoint).self)
        send(request, to: endpoint, owner: .request(promise), from: socket)
        return promise.futureResult
    }

    // MARK: - Servers

    func addServer(_ server: HyperDHTServer) { servers[server.target] = server }

    func removeServer(_ server: HyperDHTServer) {
        if servers[server.target] === server { servers[server.target] = nil }
    }

    /// A handshake for one of our own servers: its answer, routed as the reference's server branch.
    private func serve(
        _ request: DHTRequest, from: IPv4Endpoint, on socket: UDXSocket, server: HyperDHTServer, replyFrom: inout UDXSocket?
    ) -> HyperDHTRouter.Effect {
        if request.command == HyperDHTRequestHandler.Command.peerHolepunch.rawValue {
            guard let value = request.value, let round = try? HyperDHTHolepunch(leniently: value) else { return .drop }
            // Answered once the puncher has decided, from the socket it names (its own, so the relay reports the
            // address we punch from).
            let context = DHTRPCResponder.Context(
                id: id, isPersistent: isPersistent, onServerSocket: socket === serverSocket, tokens: tokens,
                table: table, tick: tick)
            server.holepunch(round, relay: from, on: socket, to: request.to).whenSuccess { [weak self] answer in
                guard let self, let answer else { return }
                let relayed = HyperDHTHolepunch(
                    mode: HyperDHTRelayMode.fromServer.rawValue, id: 0, payload: answer.payload,
                    peerAddress: round.peerAddress)
                transmit(
                    DHTRPCResponder.relay(request, value: relayed.compactEncoded(), to: from, context: context), to: from,
                    from: answer.socket ?? socket)
            }
            return .drop
        }
        guard request.command == HyperDHTRequestHandler.Command.peerHandshake.rawValue, let value = request.value,
            let handshake = try? HyperDHTHandshake(leniently: value), !handshake.noise.isEmpty,
            let reply = server.handshake(handshake.noise, peerAddress: handshake.peerAddress, from: from, socket: socket)
        else { return .drop }
        if case .relay = HyperDHTRouter.answer(handshake, reply: reply.noise, from: from), reply.socket != nil {
            // Relayed from the punching socket, so the relay tells the client where we will punch from.
            replyFrom = reply.socket
        }
        return HyperDHTRouter.answer(handshake, reply: reply.noise, from: from)
    }

    /// A walk toward `request.target` sending `request` to each node on the way; `onReply` sees each successful
    /// reply as it comes.
    func walk(
        _ request: DHTRequest, background: Bool = false, onReply: ((DHTQuery.Reply) -> Void)? = nil
    ) -> EventLoopFuture<WalkResult> {
        let promise = eventLoop.makePromise(of: WalkResult.self)
        guard serverSocket != nil else {
            promise.fail(Failure.notStarted)
            return promise.futureResult
        }
        network.queried()
        let number = nextWalk
        nextWalk += 1
        var query = DHTQuery(target: request.target ?? id, ownID: id, k: table.k, concurrency: background ? 2 : 10)
        let effects = query.start(
            table: table.closest(to: request.target ?? id), bootstrap: configuration.bootstrap)
        walks[number] = Walk(query: query, request: request, promise: promise, onReply: onReply, background: background)
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
                if walks[number]?.background == true {
                    walks[number]?.query.concurrency = requests.inflightCount < 3 ? 10 : 2
                }
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

    /// Sends a request from the socket dht-rpc would use (the client socket while firewalled, else the server
    /// socket), with our id when persistent and sending from the server socket.
    private func send(_ template: DHTRequest, to endpoint: IPv4Endpoint, owner: Owner, from chosen: DHTRequestTable.Socket? = nil) {
        var request = template
        let socket: DHTRequestTable.Socket = chosen ?? (isFirewalled ? .client : .server)
        request.id = isPersistent && socket == .server ? id : nil
        var actions: [DHTRequestTable.Action] = []
        let tid = requests.send(request, to: endpoint, from: socket, now: Self.now(), into: &actions)
        owners[tid] = (owner, endpoint)
        carryOut(actions)
    }

    private func carryOut(_ actions: [DHTRequestTable.Action]) {
        for action in actions {
            switch action {
            case .transmit(let bytes, let to, let from):
                transmit(bytes, to: to, from: udxSocket(from))
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
                case .request(let promise):
                    promise.fail(Failure.nobodyAnswered)
                case .ignore:
                    break
                }
            }
        }
        rearmTimer()
    }

    private func udxSocket(_ socket: DHTRequestTable.Socket) -> UDXSocket? {
        switch socket {
        case .server: serverSocket
        case .client: clientSocket
        case .punching(let number): punchingSockets[number]
        }
    }

    private func transmit(_ bytes: [UInt8], to endpoint: IPv4Endpoint, from socket: UDXSocket?) {
        guard let socket, let address = endpoint.socketAddress else {
            return
        }
        socket.send(ByteBuffer(bytes: bytes), to: address)
    }

    // MARK: - Receiving

    func received(_ buffer: ByteBuffer, from address: SocketAddress, on socket: UDXSocket) {
        guard let from = IPv4Endpoint(address),
            let message = try? DHTMessage(decoding: Array(buffer.readableBytesView))
        else { return }
        switch message {
        case .request(let request):
            guard limiter.allows(from, now: Self.now()) else { return }
            let senderID = DHTNodeID.validated(request.id, from: from)
            if socket === serverSocket { hostsOnServerSocket?.insert(from.address) }
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
                    let outcome: HyperDHTRequestHandler.Outcome
                    var ours = false
                    var replyFrom: UDXSocket?
                    if request.command <= HyperDHTRequestHandler.Command.peerHolepunch.rawValue,
                        let target = request.target, let server = servers[target]
                    {
                        ours = true
                        switch serve(request, from: from, on: socket, server: server, replyFrom: &replyFrom) {
                        case .relay(let value, let to): outcome = .relay(value: value, to: to)
                        case .reply(let value, let to): outcome = .replyTo(value: value, to: to)
                        case .replyWithCloserNodes, .drop: outcome = .drop
                        }
                    } else {
                        let handlerContext = HyperDHTRequestHandler.Context(
                            ourID: id, isPersistent: isPersistent, now: configuration.storeClock(),
                            wallClock: Self.wallClock())
                        outcome = HyperDHTRequestHandler.handle(
                            request, from: from, context: handlerContext, store: &store, using: &random)
                    }
                    switch outcome {
                    case .reply(let value, let token, let closerNodes):
                        transmit(
                            DHTRPCResponder.reply(
                                to: request, value: value, token: token, closerNodes: closerNodes, to: from, context: context),
                            to: from, from: socket)
                    case .replyTo(let value, let to):
                        if !ours { relayedMessages += 1 }
                        transmit(DHTRPCResponder.reply(to: request, value: value, to: to, context: context), to: to, from: socket)
                    case .relay(let value, let to):
                        if !ours { relayedMessages += 1 }
                        transmit(
                            DHTRPCResponder.relay(request, value: value, to: to, context: context), to: to,
                            from: replyFrom ?? socket)
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
            if socket === serverSocket { hostsOnServerSocket?.insert(from.address) }
            let senderID = DHTNodeID.validated(response.id, from: from)
            learn(senderID, at: from, seenUs: response.to, sample: socket === expectedSocket)
            _ = outstanding
            switch entry.owner {
            case .query(let number):
                guard var walk = walks[number] else { return }
                let effects = walk.query.received(
                    response, from: from, id: senderID, table: table.closest(to: walk.query.target))
                walks[number] = walk
                perform(effects, walk: number)
            case .request(let promise):
                promise.succeed((response, from))
            case .ignore:
                break
            }
        }
    }

    /// The socket replies to our requests arrive on.
    private var expectedSocket: UDXSocket? { isFirewalled ? clientSocket : serverSocket }

    /// What a message told us of its sender (dht-rpc's `_addNodeFromNetwork`). A node that proved its id goes
    /// into the table, or has its bookkeeping refreshed; its view of our address goes into the NAT sampler when it
    /// is added, and again after half an hour when the message came on the expected socket. A full row challenges
    /// its oldest node (`_onfullrow`). A reply without an id (a bootstrap node, or anyone ephemeral) is sampled only
    /// from as many distinct senders as we have bootstrap nodes.
    private func learn(_ nodeID: [UInt8]?, at endpoint: IPv4Endpoint, seenUs: IPv4Endpoint, sample: Bool) {
        guard let nodeID else {
            if sampledBootstrapNodes.count < max(1, configuration.bootstrap.count),
                sampledBootstrapNodes.insert(endpoint).inserted
            {
                nat.add(seenUs)
            }
            return
        }
        guard nodeID != id else { return }
        let now = tick
        if let known = table.node(nodeID) {
            let resample = sample && (known.sampled.map { now - min(now, $0) >= DHTNetworkState.oldNode } ?? true)
            table.update(nodeID) {
                $0.pinged = now
                $0.seen = now
                if resample { $0.sampled = now }
            }
            if resample { nat.add(seenUs) }
            return
        }
        var node = DHTContact(id: nodeID, endpoint: endpoint, added: now, pinged: now, seen: now)
        node.sampled = now
        switch table.add(node) {
        case .added:
            nat.add(seenUs)
        case .rowFull(let row):
            challenge(row: row, newcomer: node, seenUs: seenUs)
        case .updated:
            break
        }
    }

    /// Pings the full row's oldest node; if it does not answer (or answers without refreshing itself) it makes
    /// room for the newcomer.
    private func challenge(row: Int, newcomer: DHTContact, seenUs: IPv4Endpoint) {
        guard let old = network.challenge(in: table.nodes(inRow: row), bootstrapped: isBootstrapped) else { return }
        let lastSeen = old.seen
        table.update(old.id) { $0.pinged = self.tick }
        ping(old.endpoint).whenComplete { [weak self] result in
            guard let self else { return }
            network.challengeSettled()
            let answered = (try? result.get()) != nil
            if answered, let current = table.node(old.id), current.seen > lastSeen { return }
            table.remove(old.id)
            var node = newcomer
            node.added = tick
            node.pinged = tick
            node.seen = tick
            if case .added = table.add(node) { nat.add(seenUs) }
        }
    }

    /// Pings a node of the table (`_check`): gone if it does not answer, or answers without refreshing itself.
    private func check(_ node: DHTContact) {
        let lastSeen = node.seen
        table.update(node.id) { $0.pinged = self.tick }
        ping(node.endpoint).whenComplete { [weak self] result in
            guard let self else { return }
            if (try? result.get()) != nil, let current = table.node(node.id), current.seen > lastSeen { return }
            table.remove(node.id)
        }
    }

    /// A background walk toward a random node of the table (our own id when it is empty), dht-rpc's `refresh`.
    public func refresh() {
        eventLoop.preconditionInEventLoop()
        let target = table.count > 0 ? table.node(atOffset: Int.random(in: 0..<table.count))?.id ?? id : id
        walk(findNodeRequest(target), background: true).whenFailure { _ in }
    }

    // MARK: - Network state

    /// Our address as other nodes can reach it (dht-rpc's `remoteAddress`): known only when the NAT sampler agrees on
    /// a host and port, we are not firewalled, and that port is our server socket's.
    public var remoteAddress: IPv4Endpoint? {
        guard let host = nat.host, nat.port != 0, !isFirewalled, let port = address?.port, port == nat.port else {
            return nil
        }
        return IPv4Endpoint(address: host, port: port)
    }

    /// How our NAT treats the socket we send from (hyperdht's `Nat.autoSample`): pings up to four nodes of the
    /// table (skipping the five latest when there are eight or more), once more if too few answered, and classifies
    /// the addresses they saw us at.
    public func sampleFirewall() -> EventLoopFuture<HyperDHTNATClassifier> {
        eventLoop.preconditionInEventLoop()
        return sampleFirewallRound(HyperDHTNATClassifier(firewalled: isFirewalled), visited: [], retry: true)
    }

    private func sampleFirewallRound(
        _ classifier: HyperDHTNATClassifier, visited: Set<IPv4Endpoint>, retry: Bool
    ) -> EventLoopFuture<HyperDHTNATClassifier> {
        let chosen = natSampleCandidates(count: max(0, 4 - classifier.sampled), visited: visited)
        let visited = visited.union(chosen)
        let pings = chosen.map { node in ping(node).map { (node, $0.to) } }
        return EventLoopFuture.whenAllComplete(pings, on: eventLoop).flatMap { results in
            var classifier = classifier
            for case .success(let (node, observed)) in results { classifier.add(observed: observed, from: node) }
            if classifier.sampled < 4, retry, !classifier.isDecided() {
                return self.sampleFirewallRound(classifier, visited: visited, retry: false)
            }
            return self.eventLoop.makeSucceededFuture(classifier)
        }
    }

    /// Checks our network (dht-rpc's `_updateNetworkState`): firewalled nodes first ask recent nodes to PING_NAT
    /// the server socket; a node that passes takes the id of its public address, and a full check makes it
    /// persistent. True when the id changed hands that way.
    func updateNetworkState(onlyFirewall: Bool) -> EventLoopFuture<Bool> {
        guard !checkingNetwork else { return eventLoop.makeSucceededFuture(false) }
        let natAtStart = nat.address
        guard network.beginCheck(onlyFirewall: onlyFirewall, nat: nat) else { return eventLoop.makeSucceededFuture(false) }
        checkingNetwork = true
        let wasFirewalled = isFirewalled
        let probe = wasFirewalled ? checkIfFirewalled() : eventLoop.makeSucceededFuture((firewalled: false, sampler: nat))
        return probe.map { verdict in
            self.checkingNetwork = false
            guard
                let address = self.network.concludeCheck(
                    onlyFirewall: onlyFirewall, probeFailed: verdict.firewalled, probe: verdict.sampler, nat: self.nat,
                    natMoved: self.nat.address != natAtStart)
            else {
                self.onNetworkUpdate?(self)
                return false
            }
            if wasFirewalled {
                self.nat = verdict.sampler
                self.sampledBootstrapNodes = []
            }
            let newID = DHTNodeID.of(address)
            if newID != self.table.id {
                let nodes = self.table.allNodes
                self.table = DHTRoutingTable(id: newID)
                for node in nodes where node.id != newID { _ = self.table.add(node) }
                if self.isBootstrapped { self.refresh() }
            }
            self.onNetworkUpdate?(self)
            return true
        }
    }

    /// `_checkIfFirewalled`: PING_NAT to the five most recently heard-from nodes (or the bootstrap nodes), and the
    /// verdict on which of their answers reached the server socket.
    private func checkIfFirewalled() -> EventLoopFuture<(firewalled: Bool, sampler: DHTNATSampler)> {
        let recent = table.allNodes.sorted { $0.seen > $1.seen }.map(\.endpoint)
        let targets = DHTNetworkState.firewallProbeTargets(recentFirst: recent, bootstrap: configuration.bootstrap)
        guard !targets.isEmpty, let serverPort = address?.port else {
            return eventLoop.makeSucceededFuture((true, DHTNATSampler()))
        }
        hostsOnServerSocket = []
        let pongs = targets.map { target in request(pingNATRequest(), to: target).map { (target, $0) } }
        return EventLoopFuture.whenAllComplete(pongs, on: eventLoop).map { results in
            let reached = self.hostsOnServerSocket ?? []
            self.hostsOnServerSocket = nil
            let answers = results.compactMap { try? $0.get() }.map { target, response in
                DHTNetworkState.Pong(from: target, to: response.to, cameToServerSocket: reached.contains(target.address))
            }
            return DHTNetworkState.firewallVerdict(
                pongs: answers, asked: targets.count, clientNAT: self.nat, serverPort: serverPort)
        }
    }

    private func onTick() {
        // The wall clock, as the reference's: the monotonic clock stops while the machine is suspended.
        let now = Self.wallClock()
        // dht-rpc's SLEEPING_INTERVAL: three of its 5 s ticks, whatever our tick (tests shorten it, and a loaded
        // machine delays a 10 ms tick far more than three times without having slept).
        let wokeUp = lastTick.map { now - min(now, $0) > 15_000 } ?? false
        lastTick = now
        let table = self.table
        let actions = network.advance(
            bootstrapped: isBootstrapped, natHost: nat.host, nodeCount: table.count,
            nodesByAge: { table.allNodes.sorted { ($0.seen, $0.pinged) < ($1.seen, $1.pinged) } }, tableSize: table.k,
            inflight: requests.inflightCount, wokeUp: wokeUp)
        for action in actions {
            switch action {
            case .checkNetwork: _ = updateNetworkState(onlyFirewall: false)
            case .ping(let nodes): nodes.forEach(check)
            case .refresh: refresh()
            }
        }
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
