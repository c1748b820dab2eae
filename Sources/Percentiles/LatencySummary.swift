import Histogram

/// A percentile the summaries report (replay's load figures, the audit's latencies) and a latency goal names.
public enum Quantile: String, Sendable, CaseIterable {
    case p50, p90, p99
    case p999 = "p99.9"
    case max

    var percentile: Double {
        switch self {
        case .p50: 50
        case .p90: 90
        case .p99: 99
        case .p999: 99.9
        case .max: 100
        }
    }
}

/// Latency percentiles of one kind of measurement, in milliseconds, from an HDR histogram of microseconds (three
/// significant digits: a value is reported within 0.1 % of what was measured).
public struct LatencySummary: Sendable, Equatable {
    public var count: Int
    /// Milliseconds, by quantile (empty when nothing was measured).
    public var values: [Quantile: Double]

    public init(count: Int, values: [Quantile: Double]) {
        self.count = count
        self.values = values
    }

    public init(_ durations: some Sequence<Duration>) {
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var count = 0
        for d in durations {
            let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
            _ = histogram.record(UInt64(Swift.max(0, micros)))
            count += 1
        }
        self.count = count
        values = [:]
        guard count > 0 else { return }
        for q in Quantile.allCases {
            let micros = q == .max ? histogram.max : histogram.valueAtPercentile(q.percentile)
            values[q] = Double(micros) / 1000
        }
    }

    public subscript(q: Quantile) -> Double? { values[q] }
}

extension String {
    /// `x` rounded to `decimals` places, trailing zeros dropped (`12.5`, `0.125`, `3`): how the latency figures
    /// are written (replay's load summary and goals to the microsecond, the audit to the nanosecond).
    public init(_ x: Double, decimals: Int) {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        var s = String((x * scale).rounded() / scale)
        if s.hasSuffix(".0") { s.removeLast(2) }
        self = s
    }
}
