import IRCServer
import ServiceLifecycle

/// The IRC listeners as a service: bound before the group starts (so their ports can be printed), closed when the
/// group shuts down. Started last and so stopped first: clients are told the server is going away while the peers
/// and the store behind them are still up.
public struct IRCListenerService: Service {
    public let listener: IRCListener

    public init(listener: IRCListener) {
        self.listener = listener
    }

    public func run() async throws {
        // Returns on graceful shutdown; throws on cancellation, which closes the listeners all the same.
        try? await gracefulShutdown()
        try await listener.shutdown()
    }
}
