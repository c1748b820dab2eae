/// A point in capture time: nanoseconds since the Unix epoch, with the precision the capture recorded.
///
/// imscope never reads the wall clock while decoding; every timeout and latency is computed on these values.
public struct Timestamp: Hashable, Comparable, Sendable {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: Int64
    /// Digits after the decimal point the capture recorded: 6 (microseconds) or 9 (nanoseconds).
    public var precision: UInt8

    public init(nanoseconds: Int64, precision: UInt8 = 9) {
        self.nanoseconds = nanoseconds
        self.precision = precision
    }

    public init(seconds: Int64, fraction: Int64, precision: UInt8) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ (precision == 9 ? fraction : fraction &* 1000)
        self.precision = precision
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func == (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds == rhs.nanoseconds }

    public func hash(into hasher: inout Hasher) { hasher.combine(nanoseconds) }

    /// Seconds between two timestamps, as a Double (for display only).

    public func seconds(since other: Timestamp) -> Double { Double(nanoseconds &- other.nanoseconds) / 1e9 }
}

/// Which way bytes travel on a connection.
public enum Direction: UInt8, Sendable, CaseIterable {
    /// Client to server.
    case c2s = 0
    /// Server to client.
    case s2c = 1

    public var reversed: Direction { self == .c2s ? .s2c : .c2s }

    /// The spelling used in every output format (`c2s`, `s2c`).
    public var name: String { self == .c2s ? "c2s" : "s2c" }
}
