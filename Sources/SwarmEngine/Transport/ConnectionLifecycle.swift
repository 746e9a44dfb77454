/// Where one peer connection is in its life, from the handshake to the socket closing: the part of
/// `SwarmConnectionHandler` that decides when `established` is settled, when our end takes effect, when we half-close
/// and when we close. A value without I/O (as `ChildChannelStateMachine` in swift-nio-ssh): the handler tells it
/// what happened and carries out the actions it returns.
///
/// A clean end (our `end()`, or the peer's EOF answered with ours, as the reference's protomux answers `end` with
/// `end`) writes out everything already sent, then sends FIN and reads on until the peer ends too: closing the whole
/// socket while the peer's bytes sit unread would make the kernel answer with a reset, which destroys what the peer
/// has not read yet of ours. Only a failure, or both sides having ended, closes both ways at once.
struct ConnectionLifecycle: Sendable {
    enum State: Hashable, Sendable {
        /// The secret-stream handshake is under way: `established` is pending, and is settled exactly once on the
        /// way out of this state.
        case handshaking
        /// Encrypted and running in both directions.
        case open
        /// `end()` came while protomux was corked: it takes effect at the uncork, so the batch being built still
        /// goes out. `peerEnded`: the peer's clean EOF arrived meanwhile.
        case endingAtUncork(peerEnded: Bool)
        /// Our end took effect: nothing new is sent, and our output closes once every queued write has completed.
        case draining(peerEnded: Bool)
        /// Our FIN is out and the peer has not ended yet: we read on until it does (or the end timeout closes the
        /// channel). Had the peer ended, the connection would be closing instead.
        case outputClosed
        /// We asked the channel to close (a failure, an idle peer, or both sides ended); `channelInactive` follows.
        /// `established` is settled by now.
        case closing(peerEnded: Bool)
        /// The channel is inactive: nothing more happens.
        case closed
    }

    /// What the handler does, in the order given.
    enum Action: Hashable, Sendable {
        /// Fail `established`, with the error at hand (`closedDuringHandshake` when there is none).
        case failEstablishment
        /// Stop the keep-alives and the idle check: nothing new will be sent.
        case stopLiveness
        /// Half-close: FIN (after everything queued before it), then read on until the peer ends or the end
        /// timeout passes.
        case closeOutput
        /// Close the channel in both directions.
        case close
        /// Ask secret-stream how the peer went away (`receiveEnd`): its EOF was never seen, so whether the stream
        /// ended between frames after the handshake (clean) or not (an error) is still to be judged.
        case judgePeerEnd
    }

    private(set) var state: State

    init(state: State = .handshaking) {
        self.state = state
    }

    // MARK: - Queries

    /// Whether local protomux calls (open, send, close) may still produce frames: not once our end took effect.
    var acceptsLocalOperations: Bool {
        switch state {
        case .open, .endingAtUncork: true
        case .handshaking, .draining, .outputClosed, .closing, .closed: false
        }
    }

    /// Whether the peer's EOF has been seen (and judged), so a second one, or the channel going away, needs no
    /// judging again.
    var hasPeerEnded: Bool {
        switch state {
        case .endingAtUncork(let peerEnded), .draining(let peerEnded), .closing(let peerEnded): peerEnded
        case .handshaking, .open, .outputClosed: false
        case .closed: true
        }
    }

    var isClosed: Bool { state == .closed }

    // MARK: - Events

    /// Secret-stream finished the handshake. Returns whether to complete `established` with the connection now
    /// (and start the keep-alives and the idle check): false when it was settled already, by a failure that came
    /// first, and stays failed.
    mutating func established() -> Bool {
        switch state {
        case .handshaking:
            state = .open
            return true
        case .open, .endingAtUncork, .draining, .outputClosed, .closing, .closed:
            return false
        }
    }

    /// We close the connection at once: a misbehaving peer, a transport error, an idle peer.
    mutating func closeRequested() -> [Action] {
        switch state {
        case .handshaking:
            state = .closing(peerEnded: false)
            return [.failEstablishment, .close]
        case .open, .outputClosed:
            state = .closing(peerEnded: false)
            return [.close]
        case .endingAtUncork(let peerEnded), .draining(let peerEnded), .closing(let peerEnded):
            state = .closing(peerEnded: peerEnded)
            return [.close]
        case .closed:
            return []
        }
    }

    /// `end()` was called: a clean end, after what was already sent.
    mutating func endRequested(isCorked: Bool, writesPending: Bool) -> [Action] {
        switch state {
        case .open:
            if isCorked {
                state = .endingAtUncork(peerEnded: false)
                return []
            }
            return beginDraining(peerEnded: false, writesPending: writesPending)
        case .handshaking:
            // Only an established connection is handed out, so nobody can end one that is still handshaking.
            return []
        case .endingAtUncork, .draining, .outputClosed, .closing, .closed:
            // Ending already (or gone): once is enough.
            return []
        }
    }

    /// A local protomux call finished with protomux no longer corked.
    mutating func uncorked(writesPending: Bool) -> [Action] {
        guard case .endingAtUncork(let peerEnded) = state else { return [] }
        return beginDraining(peerEnded: peerEnded, writesPending: writesPending)
    }

    /// The peer ended its side and secret-stream judged the end clean: we answer with our own end, after what we
    /// already queued; when ours is already out, the connection is done.
    mutating func peerEnded(isCorked: Bool, writesPending: Bool) -> [Action] {
        switch state {
        case .handshaking:
            // Secret-stream never judges an end before the handshake clean; were it to, there is nothing to end
            // cleanly, so the connection closes as one that ended during the handshake.
            state = .closing(peerEnded: true)
            return [.failEstablishment, .close]
        case .open:
            if isCorked {
                state = .endingAtUncork(peerEnded: true)
                return []
            }
            return beginDraining(peerEnded: true, writesPending: writesPending)
        case .endingAtUncork:
            state = .endingAtUncork(peerEnded: true)
            return []
        case .draining:
            state = .draining(peerEnded: true)
            return []
        case .outputClosed:
            state = .closing(peerEnded: true)
            return [.close]
        case .closing:
            state = .closing(peerEnded: true)
            return []
        case .closed:
            return []
        }
    }

    /// Every write handed to the channel has completed (written, or failed because the channel closed).
    mutating func writesDrained() -> [Action] {
        guard case .draining(let peerEnded) = state else { return [] }
        return outputDone(peerEnded: peerEnded)
    }

    /// The channel became inactive, whoever closed it.
    mutating func channelInactive() -> [Action] {
        let previous = state
        state = .closed
        switch previous {
        case .handshaking:
            return [.judgePeerEnd, .failEstablishment]
        case .open, .outputClosed:
            return [.judgePeerEnd]
        case .endingAtUncork(let peerEnded), .draining(let peerEnded), .closing(let peerEnded):
            return peerEnded ? [] : [.judgePeerEnd]
        case .closed:
            return []
        }
    }

    // MARK: - Steps shared by several events

    /// Our end takes effect: nothing new is sent; the output closes now if nothing is queued, else once it drains.
    private mutating func beginDraining(peerEnded: Bool, writesPending: Bool) -> [Action] {
        state = .draining(peerEnded: peerEnded)
        return writesPending ? [.stopLiveness] : [.stopLiveness] + outputDone(peerEnded: peerEnded)
    }

    /// Everything we sent is written: FIN, or, when the peer has ended too, the close of both directions.
    private mutating func outputDone(peerEnded: Bool) -> [Action] {
        if peerEnded {
            state = .closing(peerEnded: true)
            return [.close]
        }
        state = .outputClosed
        return [.closeOutput]
    }
}
