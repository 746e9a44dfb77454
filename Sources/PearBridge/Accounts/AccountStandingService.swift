import ServiceLifecycle

/// Every few seconds, what `pearircd account role|disable|remove` changed from the command line while the daemon runs
/// reaches the clients already logged in (`GatewayBackend.checkAccounts`; PearServ's own account commands count at
/// once). A few rows read from SQLite each time; stops when the service group shuts down.
public struct AccountStandingService: Service {
    let backend: GatewayBackend
    let interval: Duration

    public init(backend: GatewayBackend, interval: Duration = .seconds(2)) {
        self.backend = backend
        self.interval = interval
    }

    public func run() async throws {
        let backend = self.backend, interval = self.interval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // A sleep ends early when the group shuts down (the task is cancelled then).
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                backend.checkAccounts()
            }
        }
    }
}
