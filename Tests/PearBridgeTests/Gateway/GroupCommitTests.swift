import Foundation
import IRCServer
import Synchronization
import Testing

@testable import PearBridge

/// Lines that a front end queues without waiting are committed in groups (`PendingAppends`): however they are
/// grouped, each is stored once, acknowledged once, in the order sent, and reaches a peer the same way.
@Suite struct GroupCommitTests {
    /// Counts acknowledgements and lets a test wait for a number of them (no polling).
    final class Acknowledgements: Sendable {
        private struct State {
            var failures: [String] = []
            var count = 0
            var waiter: (target: Int, continuation: CheckedContinuation<Void, Never>)?
        }

        private let state = Mutex(State())

        func record(_ failure: String?) {
            let resume = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.count += 1
                if let failure { state.failures.append(failure) }
                guard let waiter = state.waiter, state.count >= waiter.target else { return nil }
                state.waiter = nil
                return waiter.continuation
            }
            resume?.resume()
        }

        var failures: [String] { state.withLock { $0.failures } }
        var count: Int { state.withLock { $0.count } }

        /// Returns once `target` acknowledgements arrived, or false after `timeout`.
        func wait(for target: Int, timeout: Duration = .seconds(30)) async -> Bool {
            let timer = Task {
                try? await Task.sleep(for: timeout)
                let resume = state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter?.continuation
                }
                resume?.resume()
            }
            defer { timer.cancel() }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state -> Bool in
                    if state.count >= target { return true }
                    state.waiter = (target, continuation)
                    return false
                }
                if done { continuation.resume() }
            }
            return count >= target
        }
    }

    @Test func aBurstIsStoredOnceInOrderAndReachesThePeerTheSameWay() async throws {
        let a = try await TestGateway.make("burst-a"), b = try await TestGateway.make("burst-b")
        defer { a.cleanUp(); b.cleanUp() }
        await a.handle(.joined(channel: "#burst", nick: "alice"))
        await b.handle(.joined(channel: "#burst", nick: "bob"))
        await link(a, b)

        let acknowledgements = Acknowledgements()
        let texts = (0..<300).map { "burst line \($0)" }
        for (number, text) in texts.enumerated() {
            // As the IRC adapter sends a paste: queued one after another, nobody waiting in between.
            a.gateway.submit(
                .say(room: "#burst", kind: .message, text: text, id: "b\(number)", time: Date()),
                stored: { acknowledgements.record($0) })
        }
        #expect(await acknowledgements.wait(for: texts.count), "only \(acknowledgements.count) lines acknowledged")
        #expect(acknowledgements.failures.isEmpty)
        #expect(acknowledgements.count == texts.count, "each line is acknowledged once")

        let stored = await a.gateway.history(room: "#burst", window: .latest(limit: 1000)).map(\.text)
        #expect(stored == texts)
        try await waitUntil("b has the burst") {
            await b.gateway.history(room: "#burst", window: .latest(limit: 1000)).count == texts.count
        }
        #expect(await b.gateway.history(room: "#burst", window: .latest(limit: 1000)).map(\.text) == texts)
    }
}
