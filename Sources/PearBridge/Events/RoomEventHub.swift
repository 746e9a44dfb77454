import Synchronization

/// Hands every `RoomEvent` to each front end that subscribed, in the order they were published.
///
/// Subscribers are plain closures called on the publisher's task: a front end maps the event to its own protocol
/// and queues it (the IRC adapter yields into the stream `IRCServerCore` reads), so publishing never waits on a
/// front end. A subscription ends when its token is cancelled or dropped.
public final class RoomEventHub: Sendable {
    public typealias Subscriber = @Sendable (RoomEvent) -> Void

    private struct Subscribers {
        var next: UInt64 = 0
        var byID: [UInt64: Subscriber] = [:]
    }

    private let subscribers = Mutex(Subscribers())

    public init() {}

    /// Registers `subscriber`; it receives every event published while the returned subscription is alive.
    public func subscribe(_ subscriber: @escaping Subscriber) -> Subscription {
        let id = subscribers.withLock { state in
            defer { state.next += 1 }
            state.byID[state.next] = subscriber
            return state.next
        }
        return Subscription { [weak self] in _ = self?.subscribers.withLock { $0.byID.removeValue(forKey: id) } }
    }

    /// The events as an async stream (tests, simple consumers): unbounded, ends when the consumer stops iterating.
    public func stream() -> AsyncStream<RoomEvent> {
        let (stream, continuation) = AsyncStream<RoomEvent>.makeStream()
        let subscription = subscribe { continuation.yield($0) }
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    public func publish(_ event: RoomEvent) {
        let current = subscribers.withLock { Array($0.byID.values) }
        for subscriber in current { subscriber(event) }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.byID.count } }

    /// Keeps a subscription alive; cancelling it (or dropping the last reference) unsubscribes.
    public final class Subscription: Sendable {
        private let cancellation: Mutex<(@Sendable () -> Void)?>

        init(_ cancel: @escaping @Sendable () -> Void) {
            cancellation = Mutex(cancel)
        }

        public func cancel() {
            let cancel = cancellation.withLock { current in
                defer { current = nil }
                return current
            }
            cancel?()
        }

        deinit { cancel() }
    }
}
