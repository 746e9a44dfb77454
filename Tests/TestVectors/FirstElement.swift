/// The first element `stream` yields, or nil if it ends first or `timeout` passes: how tests wait on an event without
/// sleeping and hoping.
public func firstElement<Element: Sendable>(of stream: AsyncStream<Element>, timeout: Duration) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            for await element in stream { return element }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
