/// The relay's bookkeeping of pairings (blind-relay's `BlindRelaySession._onpair` / `_onunpair` and its server's
/// `_pairing` map), as a pure value: who asked to be paired under which token, and which pairs are linked. Two
/// requests under one token, one from each side (initiator and not), make a pair; the shell then makes the two relay
/// streams. Bounded, unlike the reference: a session may wait on few tokens, the relay on a limited number in all,
/// and it links a limited number of pairs; beyond, a request is refused and nothing is kept.
public struct BlindRelayPairing: Sendable {
    public struct Limits: Sendable {
        /// Tokens one connection may wait on at once.
        public var pendingPerSession = 8
        /// Tokens waiting in all.
        public var pending = 1024
        /// Pairs linked at once (two relay streams each).
        public var links = 256
        public init() {}
    }

    /// One side's request: the connection it came on and the UDX stream id to send to.
    public struct Request: Sendable, Equatable {
        public var session: Int
        public var isInitiator: Bool
        public var streamID: UInt32
    }

    public enum Outcome: Sendable, Equatable {
        /// The first of the two: kept until the other side asks (or its connection closes, or it unpairs).
        case waiting
        /// Both sides asked: link them (initiator, then the other).
        case matched(initiator: Request, responder: Request)
        /// The same side asked twice under this token (the reference ignores it too).
        case duplicate
        case refused(Refusal)
    }

    public enum Refusal: Sendable, Equatable {
        case tooManyForThisConnection, tooManyWaiting, tooManyLinks
    }

    public let limits: Limits
    /// Waiting tokens: the request of each side so far (index 1: initiator).
    private var waiting: [[UInt8]: [Request?]] = [:]
    public private(set) var linkCount = 0
    public var waitingCount: Int { waiting.count }

    public init(limits: Limits = Limits()) { self.limits = limits }

    public mutating func pair(session: Int, isInitiator: Bool, token: [UInt8], streamID: UInt32) -> Outcome {
        let request = Request(session: session, isInitiator: isInitiator, streamID: streamID)
        let side = isInitiator ? 1 : 0
        if var sides = waiting[token] {
            guard sides[side] == nil else { return .duplicate }
            guard linkCount < limits.links else { return .refused(.tooManyLinks) }
            sides[side] = request
            waiting[token] = nil
            linkCount += 1
            let initiator = sides[1]!
            let responder = sides[0]!
            return .matched(initiator: initiator, responder: responder)
        }
        guard waiting.count < limits.pending else { return .refused(.tooManyWaiting) }
        let mine = waiting.values.filter { $0.contains { $0?.session == session } }.count
        guard mine < limits.pendingPerSession else { return .refused(.tooManyForThisConnection) }
        var sides: [Request?] = [nil, nil]
        sides[side] = request
        waiting[token] = sides
        return .waiting
    }

    /// A side cancels a pairing still waiting (`unpair`); true when there was one of its own.
    @discardableResult
    public mutating func unpair(session: Int, token: [UInt8]) -> Bool {
        guard let sides = waiting[token], sides.contains(where: { $0?.session == session }) else { return false }
        waiting[token] = nil
        return true
    }

    /// A connection closed: what it waited on is forgotten.
    public mutating func sessionClosed(_ session: Int) {
        waiting = waiting.filter { _, sides in !sides.contains { $0?.session == session } }
    }

    /// A linked pair ended.
    public mutating func linkClosed() { linkCount = max(0, linkCount - 1) }
}
