import Dispatch
import Foundation

/// Suspends until SIGINT or SIGTERM, so the daemon shuts its listeners down cleanly instead of dying mid-write.
enum SignalWaiter {
    static func waitForTermination() async {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { continuation.yield(signalNumber) }
            source.resume()
            sources.append(source)
        }
        for await _ in stream { break }
        for source in sources { source.cancel() }
    }
}

/// Flushes stdout (the C `stdout` global is not concurrency-safe to name directly in Swift 6).
func fflushStandardOutput() {
    fflush(nil)
}
