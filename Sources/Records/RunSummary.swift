import ImscopeCore

/// What a run saw, for the summary line and the exit code.
public struct RunSummary: Sendable {
    public var packets: UInt64 = 0
    public var capturedBytes: UInt64 = 0
    public var tcpSegments: UInt64 = 0
    public var connections = 0
    public var diagnostics: [Severity: Int] = [:]
    public var readErrors = 0
    public var firstTimestamp: Timestamp? = nil
    public var lastTimestamp: Timestamp? = nil

    public init() {}
}

extension RunSummary {
    /// Adds what another part of the same run saw (a `--jobs` shard's counts).
    public mutating func merge(_ other: RunSummary) {
        packets += other.packets
        capturedBytes += other.capturedBytes
        tcpSegments += other.tcpSegments
        connections += other.connections
        diagnostics.merge(other.diagnostics) { $0 + $1 }
        readErrors += other.readErrors
        if let t = other.firstTimestamp, firstTimestamp.map({ t < $0 }) ?? true { firstTimestamp = t }
        if let t = other.lastTimestamp, lastTimestamp.map({ t > $0 }) ?? true { lastTimestamp = t }
    }
}
