/// What the decoder test tables share: how bytes are fed (whole, one at a time, seeded random splits), and the
/// mark for a case that exposes a bug not fixed yet.

// MARK: - Feeding: whole, one byte at a time, random splits with fixed seeds

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so "random" splits are the same on every run.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// How the bytes of each step of a script reach the decoder. Every decoder table runs every case in each of these
/// and expects the same events.
public enum Feed: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case whole
    case byteAtATime
    case split1
    case split2
    case split3

    public var description: String {
        switch self {
        case .whole: return "whole"
        case .byteAtATime: return "one byte at a time"
        case .split1: return "random splits (seed 1)"
        case .split2: return "random splits (seed 2)"
        case .split3: return "random splits (seed 3)"
        }
    }

    public var seed: UInt64? {
        switch self {
        case .whole, .byteAtATime: return nil
        case .split1: return 1
        case .split2: return 2
        case .split3: return 3
        }
    }

    /// The pieces `count` bytes are fed in, for the `step`-th bytes step of a script.
    public func pieces(_ count: Int, step: Int) -> [Range<Int>] {
        switch self {
        case .whole:
            return [0..<count]
        case .byteAtATime:
            return (0..<count).map { $0..<($0 + 1) }
        default:
            guard count > 1 else { return [0..<count] }
            var rng = SplitMix64(seed: seed! &* 0x1_0000_0001 &+ UInt64(step))
            let cuts = Int.random(in: 1...min(6, count - 1), using: &rng)
            var points = Set<Int>()
            while points.count < cuts { points.insert(Int.random(in: 1..<count, using: &rng)) }
            let bounds = [0] + points.sorted() + [count]
            return (0..<(bounds.count - 1)).map { bounds[$0]..<bounds[$0 + 1] }
        }
    }
}

/// A bug a case exposes, reported and not yet fixed: the case's failures in `feeds` are recorded as known issues
/// (expected values unchanged), and a fix makes the test fail until the mark is removed.
public struct KnownIssue: Sendable {
    public var bug: String
    public var feeds: Set<Feed>
    public init(bug: String, feeds: Set<Feed> = Set(Feed.allCases)) {
        self.bug = bug
        self.feeds = feeds
    }
}
