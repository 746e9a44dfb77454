import HyperLog

/// The `pearirc/room/v1` channel of one room on one connection, as protomux pairs it: each side opens the
/// channel with its hello; it is shared once both have. Nothing may be sent before our side is open (protomux drops
/// messages on channels this side has not opened), and a close by either side closes both.
///
/// Pure: transitions return what to do; `GatewayState` turns that into actions.
struct RoomChannel: Equatable, Sendable {
    enum State: Equatable, Sendable {
        /// We opened; the peer's open has not arrived.
        case announced
        /// The peer opened; we have not (our user is not in the room), so it stays unanswered.
        case requested(handshake: [UInt8])
        /// Both sides opened: writers are exchanged and replicated. `staleWriterLists` counts the peer's writer lists
        /// that taught us nothing: honest gossip repeats itself only when two peers announce the same writer at
        /// once; a stream of stale lists is a flood.
        case shared(peerWriter: [UInt8], staleWriterLists: Int)
    }

    private(set) var state: State

    /// What a transition asks the caller to do.
    enum Step: Equatable {
        /// Send our open (with our hello).
        case sendOpen
        /// The channel became shared with this hello from the peer: exchange writers and replicate.
        case pair(handshake: [UInt8])
    }

    var isShared: Bool {
        if case .shared = state { true } else { false }
    }

    /// Whether our open went out (so messages and a close may follow).
    var isOpenHere: Bool {
        switch state {
        case .announced, .shared: true
        case .requested: false
        }
    }

    /// We announce the room (our user is in it). From nothing: open. If the peer's open was waiting: open, then pair.
    static func announce(_ channel: RoomChannel?) -> (RoomChannel, [Step]) {
        switch channel?.state {
        case nil:
            (RoomChannel(state: .announced), [.sendOpen])
        case .requested(let handshake)?:
            (RoomChannel(state: .announced), [.sendOpen, .pair(handshake: handshake)])
        case .announced?, .shared?:
            (channel ?? RoomChannel(state: .announced), [])
        }
    }

    /// The peer opened the channel. `joined`: our user is in the room, so we answer (opening our side first if need
    /// be: the peer may have reopened a channel that closed when its user parted and came back).
    static func peerOpened(_ channel: RoomChannel?, handshake: [UInt8], joined: Bool) -> (RoomChannel, [Step]) {
        guard joined else { return (RoomChannel(state: .requested(handshake: handshake)), []) }
        switch channel?.state {
        case nil, .requested?:
            return (RoomChannel(state: .announced), [.sendOpen, .pair(handshake: handshake)])
        case .announced?, .shared?:
            return (RoomChannel(state: .announced), [.pair(handshake: handshake)])
        }
    }

    /// The hello was valid: the channel is shared.
    mutating func paired(peerWriter: [UInt8]) {
        state = .shared(peerWriter: peerWriter, staleWriterLists: 0)
    }

    /// A writer list taught nothing; returns the count so far (the caller compares it with its limit).
    mutating func staleWriterList() -> Int {
        guard case .shared(let writer, let stale) = state else { return 0 }
        state = .shared(peerWriter: writer, staleWriterLists: stale + 1)
        return stale + 1
    }
}
