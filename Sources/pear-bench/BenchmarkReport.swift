import Foundation

/// Prints one line per figure: `name value unit key=value…`, so runs can be compared line by line.
struct BenchmarkReport {
    func figure(_ name: String, _ value: Double, _ unit: String, _ parameters: [String: String] = [:]) {
        let formatted = value >= 100 ? String(format: "%.0f", value) : String(format: "%.3f", value)
        let parameterText = parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print("\(name) \(formatted) \(unit) \(parameterText)".trimmingCharacters(in: .whitespaces))
    }
}

/// Wall-clock seconds of `body`.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let elapsed = try clock.measure(body)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func measureAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    let elapsed = clock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
