import Crypto
import Foundation
import Logging
import LoopExecutors

/// Where the core sends a connected client's output. Implemented by the NIO connection handler (and by recorders
/// in tests). Must not block: it only queues.
public protocol IRCClientOutput: Sendable {
    /// Queues encoded lines (each ending in CR LF) for the client.
    func send(_ bytes: [UInt8])
    /// Closes the connection once what was queued is written (or after a short grace period).
    func close()
    /// Returns once the connection is closed (after `close()`); when it is still open after `deadline`, as with a
    /// client that does not read what it was sent, closes it at once, dropping what it did not take.
    func waitUntilClosed(closingAtOnceAfter deadline: Duration) async
}

extension IRCClientOutput {
    /// For outputs with no connection to wait for (recorders in tests): returns at once.
    public func waitUntilClosed(closingAtOnceAfter deadline: Duration) async {}
}

/// The running IRC server: the `IRCServerState` value behind an actor, the backend, and the connections' outputs.
/// A thin shell: every decision is the state's; this performs its actions, keeps time and feeds backend events.
///
/// It runs on the IRC connections' event loop, and its tasks (the connections' input, the backend feeds, the work
/// group) prefer that loop: a line read from a client is parsed, decided and answered on the thread that read it,
/// and a task resumed from elsewhere wakes only that loop, not a thread of Swift's shared pool that then hops back
/// (a thread switch costs tens of microseconds on a small virtual machine: docs/benchmarks.md). Work that blocks (a
/// password hash check) is sent off the loop.
public actor IRCServerCore {
    /// The IRC event loop, as this actor's executor and its tasks' preferred one.
    public nonisolated let executor: EventLoopExecutor

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private var state: IRCServerState
    private let backend: any ChatBackend
    private var outputs: [ClientID: any IRCClientOutput] = [:]
    private let encoder = IRCMessageEncoder()
    private var nextClientID: UInt64 = 1
    private var backgroundTasks: [Task<Void, Never>] = []
    private let backendQueue: AsyncStream<BackendJob>.Continuation
    private let backendRequests: AsyncStream<BackendJob>
    /// Backend questions (authentication, history, services) and password checks run as children of one task group
    /// owned by the core (one of its background tasks), so `stop()` cancels them all.
    private let work: AsyncStream<WorkJob>
    private let workQueue: AsyncStream<WorkJob>.Continuation

    /// A job for the work group; `blocking` ones (password hash checks) run on Swift's shared pool, not on the loop.
    private struct WorkJob: Sendable {
        let blocking: Bool
        let run: @Sendable () async -> Void
    }
    private let logger: Logger
    private var admission = Admission.open
    private var limits = LimitReport()

    /// Connection limits that bite are logged, at most once a minute with the counts since the last report: a flood
    /// of connections must not become a flood of log lines.
    private struct LimitReport {
        var evicted = 0
        var refused = 0
        var lastReport: ContinuousClock.Instant?

        mutating func note(evicted: Int, refused: Int, logger: Logger) {
            guard evicted + refused > 0 else { return }
            self.evicted += evicted
            self.refused += refused
            let now = ContinuousClock.now
            if let lastReport, now - lastReport < .seconds(60) { return }
            logger.warning(
                "IRC connection limits reached",
                metadata: ["unregistered closed": "\(self.evicted)", "refused": "\(self.refused)"])
            lastReport = now
            self.evicted = 0
            self.refused = 0
        }
    }

    /// What goes to the backend, one at a time and in order.
    private enum BackendJob: Sendable {
        case handle(BackendRequest, account: String?)
        /// A channel line to store; its token goes back to the state with the outcome.
        case keep(BackendRequest, token: UInt64, account: String?)
        case carry(BackendRequest, token: UInt64, account: String?)
        /// History (CHATHISTORY, the replay after a JOIN): asked in order, after the requests before it, so it is the
        /// history of the room a JOIN chose (a keyed JOIN may choose a private room, once its key is derived).
        case history(ClientID, HistoryQuery, batchType: String, target: String, onJoin: Bool, account: String?)
    }

    /// Whether new connections are taken.
    private enum Admission {
        case open
        /// Shutting down: a connection that arrives now is told `reason` and closed.
        case closed(reason: String)
    }

    public init(
        configuration: IRCServerConfiguration, backend: any ChatBackend, executor: EventLoopExecutor,
        logger: Logger = Logger(label: "pearircd.irc")
    ) {
        self.executor = executor
        state = IRCServerState(
            configuration: configuration, created: Date(),
            messageIDPrefix: configuration.messageIDNamespace + String(UInt64.random(in: 0...UInt64.max), radix: 36))
        self.backend = backend
        self.logger = logger
        (backendRequests, backendQueue) = AsyncStream.makeStream()
        (work, workQueue) = AsyncStream.makeStream()
    }

    /// Runs `job` as a child of the core's work group.
    private func spawn(blocking: Bool = false, _ job: @escaping @Sendable () async -> Void) {
        workQueue.yield(WorkJob(blocking: blocking, run: job))
    }

    public var configuration: IRCServerConfiguration { state.configuration }

    /// Starts the clock, the backend event feed and the ordered backend request queue.
    public func start() {
        guard backgroundTasks.isEmpty else { return }
        let backend = self.backend
        let requests = backendRequests
        let workQueue = self.workQueue
        // The outcome of a stored line comes back through the work group (the backend calls from its own context).
        let storedLine: @Sendable (UInt64, String?) -> Void = { [weak self] token, failure in
            guard let core = self else { return }
            workQueue.yield(WorkJob(blocking: false) { await core.lineStored(token, failure: failure) })
        }
        let historyFetched: @Sendable (ClientID, [ChatLine], String, String, Bool) -> Void = { [weak self] id, lines, batchType, target, onJoin in
            guard let core = self else { return }
            workQueue.yield(WorkJob(blocking: false) {
                await core.historyReady(id, lines: lines, batchType: batchType, target: target, onJoin: onJoin)
            })
        }
        let carriedPrivate: @Sendable (UInt64, PrivateDelivery) -> Void = { [weak self] token, delivery in
            guard let core = self else { return }
            workQueue.yield(WorkJob(blocking: false) { await core.privateMessageCarried(token, delivery) })
        }
        let executor = self.executor
        backgroundTasks.append(Task(executorPreference: executor) {
            // One request at a time, in order: a message must reach the backend after the JOIN before it.
            for await job in requests {
                switch job {
                case .handle(let request, let account):
                    await backend.handle(request, account: account)
                case .keep(let request, let token, let account):
                    await backend.keep(request, account: account) { failure in storedLine(token, failure) }
                case .carry(let request, let token, let account):
                    await backend.carry(request, account: account) { delivery in carriedPrivate(token, delivery) }
                case .history(let id, let query, let batchType, let target, let onJoin, let account):
                    historyFetched(id, await backend.history(query, account: account), batchType, target, onJoin)
                }
            }
        })
        backgroundTasks.append(Task(executorPreference: executor) { [weak self] in
            for await event in backend.events {
                guard let self else { return }
                await self.backendEvent(event)
            }
        })
        let work = self.work
        backgroundTasks.append(Task(executorPreference: executor) {
            await withDiscardingTaskGroup { group in
                for await job in work {
                    group.addTask(executorPreference: job.blocking ? globalConcurrentExecutor : nil) { await job.run() }
                }
            }
        })
        backgroundTasks.append(Task(executorPreference: executor) { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self else { return }
                await self.tick()
            }
        })
    }

    public func stop() {
        for task in backgroundTasks { task.cancel() }
        backgroundTasks = []
        backendQueue.finish()
        workQueue.finish()
    }

    /// Number of open connections (for the connection limit).
    public var connectionCount: Int { outputs.count }

    /// A new connection; returns its id, or nil when it is refused (the server is full or shutting down): it is then
    /// sent an ERROR saying why, and closed.
    public func connect(output: any IRCClientOutput, host: String, secure: Bool, certificateFingerprint: String?) -> ClientID? {
        var refusal: String?
        switch admission {
        case .closed(let reason):
            refusal = reason
        case .open:
            let (decision, actions) = state.admission(forHost: host, now: Date())
            perform(actions)
            switch decision {
            case .admit(let evicted): limits.note(evicted: evicted, refused: 0, logger: logger)
            case .refuse(let reason):
                refusal = reason
                limits.note(evicted: 0, refused: 1, logger: logger)
            }
        }
        if let refusal {
            let error = IRCMessage(command: .verb("ERROR"), params: ["Closing Link: \(host) (\(refusal))"])
            output.send((try? encoder.encode(error)) ?? [])
            output.close()
            return nil
        }
        let id = ClientID(nextClientID)
        nextClientID += 1
        outputs[id] = output
        metrics.connections.increment()
        // Asked per connection: accounts may appear while the server runs (the gateway's first `account add`).
        let loginRequired = state.configuration.loginRequirement?() ?? false
        perform(state.connected(
            id, host: host, secure: secure, certificateFingerprint: certificateFingerprint, loginRequired: loginRequired, now: Date()))
        return id
    }

    /// Tells every connected client that the server is going away (`ERROR :Closing Link: <host> (<reason>)`, the
    /// state's `shutdown`), closes each connection once that line is written, and returns when all are closed. A
    /// client that does not read is closed regardless once `deadline` has passed, so this never waits much longer.
    /// Connections that arrive from now on are refused with the same ERROR.
    public func shutdown(reason: String, deadline: Duration) async {
        admission = .closed(reason: reason)
        let actions = state.shutdown(reason: reason)
        let closing = actions.compactMap { action -> (any IRCClientOutput)? in
            guard case .close(let id) = action else { return nil }
            return outputs[id]
        }
        logger.info("closing every IRC connection", metadata: ["connections": "\(closing.count)", "reason": "\(reason)"])
        perform(actions)
        // Meanwhile the connections' disconnections come in (this actor is free while it waits): they find nobody
        // left in the state, so they fan nothing out.
        await withDiscardingTaskGroup { group in
            for output in closing {
                group.addTask { await output.waitUntilClosed(closingAtOnceAfter: deadline) }
            }
        }
    }

    /// Withdraws or re-offers capabilities at run time; connected clients with cap-notify hear CAP DEL / CAP NEW.
    public func changeCapabilities(offer: Set<String> = [], withdraw: Set<String> = []) {
        perform(state.changeCapabilities(offer: offer, withdraw: withdraw))
    }

    public func certificatePresented(_ fingerprint: String, by id: ClientID) {
        perform(state.certificatePresented(id, fingerprint: fingerprint))
    }

    /// A client whose lines wait behind a command's late answer (history on JOIN, a SASL verdict) is not read from
    /// once this many wait: its input task suspends here, its connection stops reading, and TCP slows the client down.
    /// A paste into one's own gateway is slowed, never cut off with "Excess Flood".
    static let pauseReadingAtHeldLines = 32
    /// Input tasks suspended by `pauseReadingAtHeldLines`, resumed once their client's held lines ran.
    private var pausedInputs: [ClientID: CheckedContinuation<Void, Never>] = [:]
    private let metrics = IRCServerMetrics()

    public func received(_ message: IRCMessage, from id: ClientID, replacedInvalidUTF8: Bool = false) async {
        perform(state.received(message, from: id, replacedInvalidUTF8: replacedInvalidUTF8, now: Date()))
        guard state.heldLineCount(of: id) >= Self.pauseReadingAtHeldLines, pausedInputs[id] == nil else { return }
        await withCheckedContinuation { input in
            // Checked again where the input is parked: the call may suspend before its body runs (seen with the
            // gateway's `ready()`), and if the held lines ran meanwhile, nothing would resume it.
            if state.heldLineCount(of: id) < Self.pauseReadingAtHeldLines / 2 || pausedInputs[id] != nil {
                input.resume()
            } else {
                pausedInputs[id] = input
            }
        }
    }

    /// Resumes the input of clients whose held lines have run (or who are gone).
    private func resumePausedInputs() {
        for (id, input) in pausedInputs where state.heldLineCount(of: id) < Self.pauseReadingAtHeldLines / 2 {
            pausedInputs[id] = nil
            input.resume()
        }
    }

    /// The parser every client line goes through, whatever carries it (TCP, WebSocket). IRCv3 message-tags: a
    /// client's tag section (with `@` and the space) is at most 4096 bytes; the larger 8191-byte budget is the
    /// server's, for the tags it adds. Invalid UTF-8 is replaced with U+FFFD.
    static let clientLineParser = IRCMessageParser(limits: IRCMessageLimits(maxTagSectionBytes: 4096))

    /// One line from a client, CR LF removed, as its transport framed it: parsed, then handled (`received`), or
    /// answered as malformed.
    public func received(line bytes: [UInt8], from id: ClientID) async {
        metrics.linesReceived.increment()
        switch Result(catching: { () throws(IRCParseError) in try Self.clientLineParser.parse(bytes) }) {
        case .success(let message):
            // Invalid UTF-8 was replaced with U+FFFD by the parser (legacy-charset clients keep working); UTF8ONLY
            // says the sender must be told.
            let replaced = bytes.contains { $0 >= 0x80 } && !IRCMessageParser.isValidUTF8(bytes[...])
            await received(message, from: id, replacedInvalidUTF8: replaced)
        case .failure(let error):
            malformed(error, label: IRCTag.value(of: "label", inRawLine: bytes), from: id)
        }
    }

    public func malformed(_ error: IRCParseError, label: String? = nil, from id: ClientID) {
        perform(state.malformed(id, error: error, label: label))
    }

    public func oversizedLine(from id: ClientID) {
        perform(state.oversizedLine(id))
    }

    public func disconnected(_ id: ClientID, reason: String) {
        perform(state.disconnected(id, reason: reason, now: Date()))
        if outputs.removeValue(forKey: id) != nil { metrics.connections.decrement() }
        pausedInputs.removeValue(forKey: id)?.resume()
    }

    func tick() {
        perform(state.tick(now: Date()))
    }

    func backendEvent(_ event: BackendEvent) {
        perform(state.backendEvent(event, now: Date()))
    }

    private func perform(_ actions: [IRCServerAction]) {
        // Consecutive sends to one client go out as one write. A fanned-out line is one send per member, each of
        // them the shared encoding itself: no per-member copy.
        var batch: [[UInt8]] = []
        var batchTarget: ClientID?
        func flush() {
            if let target = batchTarget, let output = outputs[target] {
                switch batch.count {
                case 0: break
                case 1: output.send(batch[0])
                default: output.send(Array(batch.joined()))
                }
            }
            batch.removeAll(keepingCapacity: true)
            batchTarget = nil
        }
        // A channel line goes to every member as the same message (per set of capabilities): encode it once. The
        // comparison is cheap because the copies share their strings' storage.
        var lastMessage: IRCMessage?
        var lastEncoding: [UInt8] = []
        /// The wire bytes of `message`; empty for a message the encoder refuses (it would break framing), which is
        /// dropped, never sent half-formed.
        func encoding(of message: IRCMessage) -> [UInt8] {
            if message != lastMessage {
                lastMessage = message
                lastEncoding = (try? encoder.encode(message)) ?? []
            }
            return lastEncoding
        }
        for action in actions {
            switch action {
            case .send(let id, let message):
                if batchTarget != id { flush() }
                batchTarget = id
                let bytes = encoding(of: message)
                if !bytes.isEmpty {
                    batch.append(bytes)
                    metrics.messagesSent.increment()
                }
            case .sendToEach(let ids, let message):
                flush()
                let bytes = encoding(of: message)
                guard !bytes.isEmpty else { continue }
                for id in ids { outputs[id]?.send(bytes) }
                metrics.messagesSent.increment(by: ids.count)
            case .close(let id):
                flush()
                outputs[id]?.close()
            case .backend(let request, let account):
                backendQueue.yield(.handle(request, account: account))
            case .storeLine(_, let token, let request, _, let account):
                backendQueue.yield(.keep(request, token: token, account: account))
            case .carryPrivate(_, let token, let request, _, let account):
                backendQueue.yield(.carry(request, token: token, account: account))
            case .authenticate(let id, let credentials):
                let backend = self.backend
                // Checking a password may take a hash's deliberate time: off the loop.
                spawn(blocking: true) { [weak self] in
                    let verdict = await backend.verdict(credentials)
                    await self?.authenticationFinished(id, verdict: verdict)
                }
            case .register(let id, let account, let email, let password):
                let backend = self.backend
                // Making an account hashes its password: off the loop, as a check is.
                spawn(blocking: true) { [weak self] in
                    let outcome = await backend.register(account: account, email: email, password: password)
                    await self?.registrationFinished(id, account: account, outcome: outcome)
                }
            case .lookUpSCRAM(let id, let account):
                let backend = self.backend
                spawn(blocking: true) { [weak self] in
                    let credentials = await backend.scramCredentials(for: account)
                    await self?.scramCredentialsFound(id, account: account, credentials: credentials)
                }
            case .fetchHistory(let id, let query, let batchType, let target, let onJoin):
                backendQueue.yield(.history(
                    id, query, batchType: batchType, target: target, onJoin: onJoin, account: state.clients[id]?.account))
            case .fetchTargets(let id, let query):
                let backend = self.backend
                let account = state.clients[id]?.account
                spawn { [weak self] in
                    let targets = await backend.historyTargets(query, account: account)
                    await self?.targetsReady(id, targets: targets)
                }
            case .verifyOperator(let id, let name, let password, let hash):
                let verifier = state.configuration.operatorPasswordVerifier
                // A password hash check takes a noticeable time by design: keep it off the loop (and this actor).
                spawn(blocking: true) { [weak self] in
                    let success = verifier?(password, hash) ?? false
                    await self?.operatorVerified(id, name: name, success: success)
                }
            case .service(let id, let service, let text):
                let backend = self.backend
                let nick = state.nick(of: id) ?? "*"
                let account = state.account(of: id)
                spawn { [weak self] in
                    let lines = await backend.service(service, from: nick, account: account, text: text) ?? ["\(service) is not available."]
                    await self?.serviceReplied(id, service: service, lines: lines)
                }
            }
        }
        flush()
        if !pausedInputs.isEmpty { resumePausedInputs() }
    }

    /// The credentials came back: the server nonce and a decoy (for a name without credentials) are drawn here, the
    /// state having no randomness of its own. A decoy's salt is the same for a name every time (derived from a secret
    /// of this process), as a real account's is, so asking twice does not tell which names exist.
    private func scramCredentialsFound(_ id: ClientID, account: String, credentials: SCRAMCredentials?) {
        var generator = SystemRandomNumberGenerator()
        let random = { (count: Int) in (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let nonce = Data(random(18)).base64EncodedString()
        let decoy = SCRAMCredentials(
            salt: Array(SHA256.hash(data: decoySecret + Array(account.utf8)).prefix(SCRAMCredentials.saltLength)),
            iterations: SCRAMCredentials.defaultIterations, storedKey: random(32), serverKey: random(32))
        perform(state.scramCredentialsFound(id, account: account, credentials: credentials, decoy: decoy, serverNonce: nonce))
    }

    /// What decoy SCRAM salts are derived from (`scramCredentialsFound`).
    private let decoySecret: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }()

    private func privateMessageCarried(_ token: UInt64, _ delivery: PrivateDelivery) {
        if case .failed(let reason) = delivery { logger.error("a private message was not stored", metadata: ["error": "\(reason)"]) }
        perform(state.privateMessageCarried(token, delivery, now: Date()))
    }

    private func lineStored(_ token: UInt64, failure: String?) {
        if let failure { logger.error("a channel line was not stored", metadata: ["error": "\(failure)"]) }
        perform(state.lineStored(token, failure: failure, now: Date()))
    }

    private func authenticationFinished(_ id: ClientID, verdict: AuthenticationVerdict) {
        switch verdict {
        case .granted(let login): perform(state.authenticationFinished(id, login: login, now: Date()))
        case .refused: perform(state.authenticationFinished(id, login: nil, now: Date()))
        case .unavailable(let reason): perform(state.authenticationUnavailable(id, reason: reason, now: Date()))
        }
    }

    private func registrationFinished(_ id: ClientID, account: String, outcome: AccountRegistrationOutcome) {
        perform(state.registrationFinished(id, account: account, outcome: outcome))
    }

    private func targetsReady(_ id: ClientID, targets: [HistoryTarget]) {
        perform(state.targetsReady(id, targets: targets))
    }

    private func historyReady(_ id: ClientID, lines: [ChatLine], batchType: String, target: String, onJoin: Bool) {
        perform(state.historyReady(id, lines: lines, batchType: batchType, target: target, onJoin: onJoin, now: Date()))
    }

    private func operatorVerified(_ id: ClientID, name: String, success: Bool) {
        perform(state.operatorVerified(id, name: name, success: success))
    }

    private func serviceReplied(_ id: ClientID, service: String, lines: [String]) {
        perform(state.serviceReplied(id, service: service, lines: lines))
    }
}

extension IRCServerState {
    func nick(of id: ClientID) -> String? { clients[id]?.nick }
    func account(of id: ClientID) -> String? { clients[id]?.account }
}
