import Foundation
import Synchronization
import Testing

@testable import PearBridge

/// The small parts `GatewayState` is made of, each on its own.
@Suite struct RoomChannelTransitionTests {
    struct Row: Sendable, CustomStringConvertible {
        let description: String
        let start: RoomChannel.State?
        let input: Input
        let end: RoomChannel.State
        let steps: [RoomChannel.Step]
    }

    enum Input: Sendable {
        case announce
        case peerOpened(joined: Bool)
    }

    static let hello: [UInt8] = [1, 2, 3]

    static let rows: [Row] = [
        Row(description: "announce from nothing opens", start: nil, input: .announce, end: .announced, steps: [.sendOpen]),
        Row(description: "announce answers a waiting open", start: .requested(handshake: hello), input: .announce, end: .announced,
            steps: [.sendOpen, .pair(handshake: hello)]),
        Row(description: "announce twice does nothing", start: .announced, input: .announce, end: .announced, steps: []),
        Row(description: "a shared channel is not announced again", start: .shared(peerWriter: [7], staleWriterLists: 1), input: .announce,
            end: .shared(peerWriter: [7], staleWriterLists: 1), steps: []),
        Row(description: "a peer's open for a room not joined waits", start: nil, input: .peerOpened(joined: false),
            end: .requested(handshake: hello), steps: []),
        Row(description: "a peer's open for a joined room is answered, opening our side first", start: nil,
            input: .peerOpened(joined: true), end: .announced, steps: [.sendOpen, .pair(handshake: hello)]),
        Row(description: "a peer's open after our announcement pairs", start: .announced, input: .peerOpened(joined: true),
            end: .announced, steps: [.pair(handshake: hello)]),
    ]

    @Test(arguments: rows)
    func transition(_ row: Row) {
        let channel = row.start.map { state -> RoomChannel in
            var channel = RoomChannel.announce(nil).0
            switch state {
            case .announced: break
            case .requested(let handshake): channel = RoomChannel.peerOpened(nil, handshake: handshake, joined: false).0
            case .shared(let writer, let stale):
                channel.paired(peerWriter: writer)
                for _ in 0..<stale { _ = channel.staleWriterList() }
            }
            return channel
        }
        let (end, steps) = switch row.input {
        case .announce: RoomChannel.announce(channel)
        case .peerOpened(let joined): RoomChannel.peerOpened(channel, handshake: Self.hello, joined: joined)
        }
        #expect(end.state == row.end, "\(row.description)")
        #expect(steps == row.steps, "\(row.description)")
    }

    @Test func staleListsAreCountedOnlyOnASharedChannel() {
        var channel = RoomChannel.announce(nil).0
        let beforePairing = channel.staleWriterList()
        #expect(beforePairing == 0)
        channel.paired(peerWriter: [7])
        #expect(channel.isShared && channel.isOpenHere)
        let counts = [channel.staleWriterList(), channel.staleWriterList()]
        #expect(counts == [1, 2])
    }
}

@Suite struct RoomWritersTests {
    @Test func admissionFollowsTheRule() {
        var writers = RoomWriters(own: Array(repeating: 1, count: 32), rule: CappedWriterAdmission(maximum: 2))
        let first = [
            writers.admit(Array(repeating: 1, count: 32)), writers.admit([1, 2, 3]), writers.admit(Array(repeating: 2, count: 32)),
            writers.admit(Array(repeating: 3, count: 32)),
        ]
        #expect(first == [.known, .invalid, .admitted, .refused])
        writers.remove(Array(repeating: 2, count: 32))
        let again = writers.admit(Array(repeating: 3, count: 32))
        #expect(again == .admitted)
        #expect(writers.sorted.map { $0[0] } == [1, 3])
    }

    /// The seam moderation plugs into: any rule decides.
    @Test func aCustomRuleDecides() {
        struct OnlyEven: WriterAdmissionRule {
            func admits(_ writer: [UInt8], currentCount count: Int) -> Bool { writer[0] % 2 == 0 }
        }
        var writers = RoomWriters(own: Array(repeating: 1, count: 32), rule: OnlyEven())
        let decisions = [writers.admit(Array(repeating: 4, count: 32)), writers.admit(Array(repeating: 5, count: 32))]
        #expect(decisions == [.admitted, .refused])
    }
}

@Suite struct RoomPresenceTests {
    @Test func showHideAndConnectionOwners() {
        var presence = RoomPresence()
        let shown = [presence.show([2]), presence.show([2]), presence.show([1])]
        #expect(shown == [true, false, true])
        #expect(presence.sorted == [[1], [2]])
        presence.connection(5, owns: [2])
        let owners = [presence.connectionEnded(5), presence.connectionEnded(5)]
        #expect(owners == [[2], nil])
        let hidden = [presence.hide([2]), presence.hide([2])]
        #expect(hidden == [true, false])
        #expect(!presence.isShown([2]) && presence.isShown([1]))
    }
}

@Suite struct RoomEventHubTests {
    @Test func everySubscriberGetsEveryEventUntilItCancels() {
        let hub = RoomEventHub()
        final class Seen: Sendable {
            let events = Mutex<[RoomEvent]>([])
        }
        let first = Seen(), second = Seen()
        let a = hub.subscribe { event in first.events.withLock { $0.append(event) } }
        let b = hub.subscribe { event in second.events.withLock { $0.append(event) } }
        hub.publish(.gatewayNotice(room: nil, text: "one"))
        b.cancel()
        hub.publish(.gatewayNotice(room: nil, text: "two"))
        #expect(first.events.withLock { $0.count } == 2)
        #expect(second.events.withLock { $0 } == [.gatewayNotice(room: nil, text: "one")])
        #expect(hub.subscriberCount == 1)
        _ = a
    }
}
