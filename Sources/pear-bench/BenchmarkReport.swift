import Foundation

/// Prints one line per figure: `name value unit key=value…`, so runs can be compared line by line.
struct BenchmarkReport {
    func figure(_ name: String, _ value: Double, _ unit: String, _ parameters: [String: String] = [:]) {
        let formatted = value >= 100 ? String(format: "%.0f", value) : String(format: "%.3f", value)
        let parameterText = parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print("\(name) \(formatted) \(unit) \(parameterText)".trimmingCharacters(in: .whitespaces))
    }
}

/// A duration in seconds.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// The nearest-rank percentile `p` (0…1) of `values` (in any order); NaN when there are none.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted[max(0, min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

/// Wall-clock seconds of `body`.
func measure(_ body: () throws -> Void) rethrows -> Double {
    try seconds(ContinuousClock().measure(body))
}

func measureAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    return seconds(clock.now - start)
}
