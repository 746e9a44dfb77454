import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the daemon's services until SIGTERM or SIGINT, then stops them in reverse order within a deadline.
///
/// The first signal starts a graceful shutdown (IRC clients get a closing line, peers a clean end, the store is
/// closed). A second signal, or a shutdown that outlives `hardDeadline`, ends the process at once: a daemon that
/// will not stop must never need `kill -9`.
enum ShutdownSequence {
    /// How long services get to stop gracefully before they are cancelled.
    static let gracefulDeadline = Duration.seconds(10)
    /// After this, counted from the first signal, the process exits whatever is still running.
    static let hardDeadline = 15

    static func run(services: [any Service], logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }, logger: logger)
        configuration.maximumGracefulShutdownDuration = gracefulDeadline
        configuration.maximumCancellationDuration = .seconds(3)
        let group = ServiceGroup(configuration: configuration)
        let signals = SignalStream()
        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask {
                // Ends when the group is cancelled (the services finished) or after the first signal.
                for await signal in signals.stream {
                    logger.info("shutting down", metadata: ["signal": "\(signal)"])
                    signals.exitOnNextSignal()
                    armWatchdog(logger: logger)
                    await group.triggerGracefulShutdown()
                    return
                }
            }
            try await group.run()
            tasks.cancelAll()
        }
        logger.info("stopped")
    }

    /// Exits the process if the graceful shutdown has not finished in time.
    private static func armWatchdog(logger: Logger) {
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(hardDeadline)) {
            logger.error("shutdown did not finish in time; exiting")
            _exit(1)
        }
    }
}

/// SIGINT and SIGTERM as an async stream (the default actions are turned off, so the daemon decides).
final class SignalStream: Sendable {
    let stream: AsyncStream<Int32>
    /// Kept for the process's lifetime (a cancelled or released source stops delivering).
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let exitOnNext = Flag()

    final class Flag: Sendable {
        let isSet = Atomic(false)
    }

    init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        var sources: [DispatchSourceSignal] = []
        let exitOnNext = self.exitOnNext
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if exitOnNext.isSet.load(ordering: .relaxed) {
                    // A second Ctrl-C while shutting down: the user wants out now.
                    _exit(130)
                }
                continuation.yield(signalNumber)
            }
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    /// From now on a signal ends the process at once.
    func exitOnNextSignal() {
        exitOnNext.isSet.store(true, ordering: .relaxed)
    }

    deinit {
        sources.withLock { for source in $0 { source.cancel() } }
    }
}
