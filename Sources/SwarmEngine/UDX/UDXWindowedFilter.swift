/// The best value seen over a sliding window (of time or of round trips), kept as the best, second best and third
/// best samples of successive sub-windows, so that the estimate ages out smoothly instead of dropping at once when
/// its sample leaves the window: Kathleen Nichols' algorithm, which Linux's `minmax` and libudx's `win_filter` use
/// for BBR's bandwidth (a max over 10 rounds) and RACK's minimum RTT (a min over 300 s).
struct UDXWindowedFilter<Value: Comparable & Sendable>: Sendable {
    private struct Sample: Sendable {
        var time: UInt64
        var value: Value
    }

    enum Kind: Sendable { case maximum, minimum }

    let kind: Kind
    private var samples: [Sample]

    init(_ kind: Kind, time: UInt64, value: Value) {
        self.kind = kind
        samples = Array(repeating: Sample(time: time, value: value), count: 3)
    }

    var best: Value { samples[0].value }

    mutating func reset(time: UInt64, value: Value) {
        samples = Array(repeating: Sample(time: time, value: value), count: 3)
    }

    private func better(_ a: Value, _ b: Value) -> Bool {
        kind == .maximum ? a >= b : a <= b
    }

    /// Takes a sample at `time`; the window is `window` units of the same clock.
    @discardableResult
    mutating func apply(_ value: Value, at time: UInt64, window: UInt64) -> Value {
        let sample = Sample(time: time, value: value)
        // A new best, or nothing left inside the window: start over from this sample.
        if better(value, samples[0].value) || time &- samples[2].time > window {
            reset(time: time, value: value)
            return best
        }
        if better(value, samples[1].value) {
            samples[1] = sample
            samples[2] = sample
        } else if better(value, samples[2].value) {
            samples[2] = sample
        }
        // Age the sub-windows: the best leaves after a full window, and the second and third best are refreshed
        // after a quarter and a half of one, so that a good recent sample is at hand when the best expires.
        let age = time &- samples[0].time
        if age > window {
            samples[0] = samples[1]
            samples[1] = samples[2]
            samples[2] = sample
            if time &- samples[0].time > window {
                samples[0] = samples[1]
                samples[1] = samples[2]
                samples[2] = sample
            }
        } else if samples[1].time == samples[0].time && age > window / 4 {
            samples[1] = sample
            samples[2] = sample
        } else if samples[2].time == samples[1].time && age > window / 2 {
            samples[2] = sample
        }
        return best
    }
}
