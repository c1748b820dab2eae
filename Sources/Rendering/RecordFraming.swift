/// How records stand in the output: one per line (JSON Lines, text), or as the elements of one JSON array
/// (`--format json`). The renderer frames what it writes with it, and the merger of `--jobs` frames the records the
/// shards rendered as lines the same way.
public struct RecordFraming: Sendable {
    public let array: Bool
    var first = true

    public init(array: Bool) { self.array = array }

    /// Before the first record.
    @inline(__always)
    public func start(_ out: OutputBuffer) {
        if array { out.append("[\n" as StaticString) }
    }

    /// Before each record.
    @inline(__always)
    public mutating func beforeRecord(_ out: OutputBuffer) {
        if array {
            if !first { out.append(",\n" as StaticString) }
            first = false
        }
    }

    /// After each record.
    @inline(__always)
    public func afterRecord(_ out: OutputBuffer) {
        if !array { out.append(byte: 0x0A) }
    }

    /// After the last record.
    public func end(_ out: OutputBuffer) {
        if array { out.append(first ? "]\n" as StaticString : "\n]\n" as StaticString) }
    }
}
