/// What became of one server message in the replay: an expected one matched or changed (paired with what came),
/// missing (never came), or an actual one nobody expected.
public struct Outcome: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable, CaseIterable {
        case matched
        case changed
        case missing
        case unexpected
    }

    public var status: Status
    /// The recorded message (nil when unexpected).
    public var expected: ServerMessage?
    /// The replayed message (nil when missing).
    public var actual: ServerMessage?
    /// Value-level differences (changed only).
    public var differences: [Difference]
    /// Paths whose values differed but were not compared.
    public var ignored: [IgnoredDifference]

    public init(
        status: Status, expected: ServerMessage?, actual: ServerMessage?, differences: [Difference] = [],
        ignored: [IgnoredDifference] = []
    ) {
        self.status = status
        self.expected = expected
        self.actual = actual
        self.differences = differences
        self.ignored = ignored
    }

    static func paired(_ e: ServerMessage, _ a: ServerMessage, _ c: Comparison) -> Outcome {
        Outcome(
            status: c.isEqual ? .matched : .changed, expected: e, actual: a, differences: c.differences,
            ignored: c.ignored)
    }
}

extension Outcome {
    /// Matched, with values that differed only where learned noise is (`--noise`).
    public var isNoiseOnly: Bool {
        status == .matched && ignored.contains { $0.reason.hasPrefix(IgnoreRules.noiseReason) }
    }
}
