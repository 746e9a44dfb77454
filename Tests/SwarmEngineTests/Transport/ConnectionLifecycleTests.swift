@testable import SwarmEngine
import Testing

/// `ConnectionLifecycle` on its own: every event from every state it can meet, and the ends of a connection as
/// sequences of events. The handler around it is covered by `SwarmTransportTests` over real sockets.
@Suite struct ConnectionLifecycleTests {
    typealias State = ConnectionLifecycle.State
    typealias Action = ConnectionLifecycle.Action

    enum Event: Sendable, CustomStringConvertible {
        case established
        case closeRequested
        case end(corked: Bool, writesPending: Bool)
        case uncorked(writesPending: Bool)
        case peerEnded(corked: Bool, writesPending: Bool)
        case writesDrained
        case channelInactive

        var description: String {
            switch self {
            case .established: "established"
            case .closeRequested: "closeRequested"
            case .end(let corked, let pending): "end(corked: \(corked), writesPending: \(pending))"
            case .uncorked(let pending): "uncorked(writesPending: \(pending))"
            case .peerEnded(let corked, let pending): "peerEnded(corked: \(corked), writesPending: \(pending))"
            case .writesDrained: "writesDrained"
            case .channelInactive: "channelInactive"
            }
        }
    }

    /// Feeds one event. `established` answers whether the connection is handed out rather than with actions.
    static func apply(_ event: Event, to lifecycle: inout ConnectionLifecycle) -> (handedOut: Bool, actions: [Action]) {
        switch event {
        case .established: (lifecycle.established(), [])
        case .closeRequested: (false, lifecycle.closeRequested())
        case .end(let corked, let pending): (false, lifecycle.endRequested(isCorked: corked, writesPending: pending))
        case .uncorked(let pending): (false, lifecycle.uncorked(writesPending: pending))
        case .peerEnded(let corked, let pending): (false, lifecycle.peerEnded(isCorked: corked, writesPending: pending))
        case .writesDrained: (false, lifecycle.writesDrained())
        case .channelInactive: (false, lifecycle.channelInactive())
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let from: State
        let event: Event
        let to: State
        let actions: [Action]
        var handedOut = false
        var testDescription: String { "\(from) + \(event) -> \(to) \(actions)" }
    }

    static let rows: [Row] = [
        // The handshake settles `established` exactly once, whichever way it goes.
        Row(from: .handshaking, event: .established, to: .open, actions: [], handedOut: true),
        Row(from: .handshaking, event: .closeRequested, to: .closing(peerEnded: false), actions: [.failEstablishment, .close]),
        Row(from: .handshaking, event: .channelInactive, to: .closed, actions: [.judgePeerEnd, .failEstablishment]),
        Row(from: .handshaking, event: .end(corked: false, writesPending: false), to: .handshaking, actions: []),
        Row(
            from: .handshaking, event: .peerEnded(corked: false, writesPending: false), to: .closing(peerEnded: true),
            actions: [.failEstablishment, .close]),
        Row(from: .closing(peerEnded: false), event: .established, to: .closing(peerEnded: false), actions: []),

        // Our end: at once when uncorked, at the uncork when corked; FIN once what was sent is written.
        Row(
            from: .open, event: .end(corked: false, writesPending: false), to: .outputClosed,
            actions: [.stopLiveness, .closeOutput]),
        Row(
            from: .open, event: .end(corked: false, writesPending: true), to: .draining(peerEnded: false),
            actions: [.stopLiveness]),
        Row(from: .open, event: .end(corked: true, writesPending: true), to: .endingAtUncork(peerEnded: false), actions: []),
        Row(
            from: .endingAtUncork(peerEnded: false), event: .uncorked(writesPending: true), to: .draining(peerEnded: false),
            actions: [.stopLiveness]),
        Row(
            from: .endingAtUncork(peerEnded: false), event: .uncorked(writesPending: false), to: .outputClosed,
            actions: [.stopLiveness, .closeOutput]),
        Row(
            from: .endingAtUncork(peerEnded: true), event: .uncorked(writesPending: false), to: .closing(peerEnded: true),
            actions: [.stopLiveness, .close]),
        Row(from: .open, event: .uncorked(writesPending: false), to: .open, actions: []),
        Row(from: .draining(peerEnded: false), event: .writesDrained, to: .outputClosed, actions: [.closeOutput]),
        Row(from: .draining(peerEnded: true), event: .writesDrained, to: .closing(peerEnded: true), actions: [.close]),
        Row(from: .open, event: .writesDrained, to: .open, actions: []),
        Row(from: .outputClosed, event: .writesDrained, to: .outputClosed, actions: []),
        // Ending twice is ending once.
        Row(
            from: .endingAtUncork(peerEnded: false), event: .end(corked: true, writesPending: false),
            to: .endingAtUncork(peerEnded: false), actions: []),
        Row(
            from: .draining(peerEnded: false), event: .end(corked: false, writesPending: false),
            to: .draining(peerEnded: false), actions: []),
        Row(from: .outputClosed, event: .end(corked: false, writesPending: false), to: .outputClosed, actions: []),
        Row(from: .closed, event: .end(corked: false, writesPending: false), to: .closed, actions: []),

        // The peer's clean end is answered with ours; after ours, it closes the connection.
        Row(
            from: .open, event: .peerEnded(corked: false, writesPending: false), to: .closing(peerEnded: true),
            actions: [.stopLiveness, .close]),
        Row(
            from: .open, event: .peerEnded(corked: false, writesPending: true), to: .draining(peerEnded: true),
            actions: [.stopLiveness]),
        Row(from: .open, event: .peerEnded(corked: true, writesPending: false), to: .endingAtUncork(peerEnded: true), actions: []),
        Row(
            from: .endingAtUncork(peerEnded: false), event: .peerEnded(corked: true, writesPending: false),
            to: .endingAtUncork(peerEnded: true), actions: []),
        Row(
            from: .draining(peerEnded: false), event: .peerEnded(corked: false, writesPending: true),
            to: .draining(peerEnded: true), actions: []),
        Row(
            from: .outputClosed, event: .peerEnded(corked: false, writesPending: false), to: .closing(peerEnded: true),
            actions: [.close]),
        Row(
            from: .closing(peerEnded: false), event: .peerEnded(corked: false, writesPending: false),
            to: .closing(peerEnded: true), actions: []),

        // Closing at once, from anywhere: only a pending `established` is failed.
        Row(from: .open, event: .closeRequested, to: .closing(peerEnded: false), actions: [.close]),
        Row(from: .outputClosed, event: .closeRequested, to: .closing(peerEnded: false), actions: [.close]),
        Row(from: .draining(peerEnded: true), event: .closeRequested, to: .closing(peerEnded: true), actions: [.close]),
        Row(from: .endingAtUncork(peerEnded: false), event: .closeRequested, to: .closing(peerEnded: false), actions: [.close]),
        Row(from: .closed, event: .closeRequested, to: .closed, actions: []),

        // The channel going away: the peer's end is judged unless its EOF was seen.
        Row(from: .open, event: .channelInactive, to: .closed, actions: [.judgePeerEnd]),
        Row(from: .outputClosed, event: .channelInactive, to: .closed, actions: [.judgePeerEnd]),
        Row(from: .draining(peerEnded: false), event: .channelInactive, to: .closed, actions: [.judgePeerEnd]),
        Row(from: .draining(peerEnded: true), event: .channelInactive, to: .closed, actions: []),
        Row(from: .endingAtUncork(peerEnded: true), event: .channelInactive, to: .closed, actions: []),
        Row(from: .closing(peerEnded: false), event: .channelInactive, to: .closed, actions: [.judgePeerEnd]),
        Row(from: .closing(peerEnded: true), event: .channelInactive, to: .closed, actions: []),
        Row(from: .closed, event: .channelInactive, to: .closed, actions: []),
    ]

    @Test(arguments: rows)
    func transition(_ row: Row) {
        var lifecycle = ConnectionLifecycle(state: row.from)
        let (handedOut, actions) = Self.apply(row.event, to: &lifecycle)
        #expect(lifecycle.state == row.to)
        #expect(actions == row.actions)
        #expect(handedOut == row.handedOut)
    }

    /// Local calls go through until our end takes effect (so a corked batch still fills), never before the
    /// connection exists or after it ends.
    @Test(arguments: [
        (State.handshaking, false), (.open, true), (.endingAtUncork(peerEnded: false), true),
        (.draining(peerEnded: false), false), (.outputClosed, false), (.closing(peerEnded: false), false), (.closed, false),
    ])
    func localOperations(_ state: State, accepted: Bool) {
        #expect(ConnectionLifecycle(state: state).acceptsLocalOperations == accepted)
    }

    /// `end()` with frames still unwritten, then the peer's own end: FIN only after the writes, close only after
    /// both ends, and the peer's end is never judged twice.
    @Test func ourEndThenThePeers() {
        var lifecycle = ConnectionLifecycle()
        let handedOut = lifecycle.established()
        #expect(handedOut)
        #expect(lifecycle.endRequested(isCorked: false, writesPending: true) == [.stopLiveness])
        #expect(lifecycle.writesDrained() == [.closeOutput])
        #expect(!lifecycle.hasPeerEnded)
        #expect(lifecycle.peerEnded(isCorked: false, writesPending: false) == [.close])
        #expect(lifecycle.hasPeerEnded)
        #expect(lifecycle.channelInactive() == [])
        #expect(lifecycle.isClosed)
    }

    /// The peer ends first while a corked batch is being built: the batch goes out, then our end, then the close.
    @Test func thePeersEndWhileCorked() {
        var lifecycle = ConnectionLifecycle()
        let handedOut = lifecycle.established()
        #expect(handedOut)
        #expect(lifecycle.peerEnded(isCorked: true, writesPending: false) == [])
        #expect(lifecycle.acceptsLocalOperations)
        #expect(lifecycle.uncorked(writesPending: true) == [.stopLiveness])
        #expect(!lifecycle.acceptsLocalOperations)
        #expect(lifecycle.writesDrained() == [.close])
        #expect(lifecycle.channelInactive() == [])
    }

    /// A failure after our FIN closes at once; the peer's end is still judged when the channel goes.
    @Test func aFailureAfterOurEnd() {
        var lifecycle = ConnectionLifecycle()
        let handedOut = lifecycle.established()
        #expect(handedOut)
        #expect(lifecycle.endRequested(isCorked: false, writesPending: false) == [.stopLiveness, .closeOutput])
        #expect(lifecycle.closeRequested() == [.close])
        let handedOutAgain = lifecycle.established()
        #expect(!handedOutAgain)
        #expect(lifecycle.channelInactive() == [.judgePeerEnd])
    }
}
