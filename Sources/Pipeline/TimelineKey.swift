/// Where a record stands in the timeline: the packet that placed it (`frame`), the stage of handling that packet
/// (or of ending the capture), then — where the pipeline goes connection by connection (housekeeping, the end of
/// the capture) — the connection or session (`order`), and last the order records were made in (`seq`).
///
/// Records are written in key order. Nearly always that is the order they are made in; a record placed at an
/// earlier packet (bytes released once the hole before them is declared missing, a message decoded once a frame
/// boundary is proved) waits in the ``Emitter`` until no earlier one can come. A run split between threads
/// (`--jobs`) merges the threads' records by the same keys.
public struct TimelineKey: Comparable, Sendable {
    public var frame: UInt64
    public var stage: PipelineStage
    public var order: UInt64
    public var seq: UInt64

    public init(frame: UInt64, stage: PipelineStage, order: UInt64, seq: UInt64) {
        self.frame = frame
        self.stage = stage
        self.order = order
        self.seq = seq
    }

    public static func < (a: TimelineKey, b: TimelineKey) -> Bool {
        (a.frame, a.stage.rawValue, a.order, a.seq) < (b.frame, b.stage.rawValue, b.order, b.seq)
    }

    /// Past every key of frame `frame` up to and including `stage`.
    public static func watermark(frame: UInt64, stage: PipelineStage) -> TimelineKey {
        TimelineKey(frame: frame, stage: stage, order: .max, seq: .max)
    }

    /// Below every key a record placed at `frame` (or later) can get.
    public static func before(frame: UInt64) -> TimelineKey {
        TimelineKey(frame: frame, stage: .start, order: 0, seq: 0)
    }

    public static let end = TimelineKey(frame: .max, stage: .endSessions, order: .max, seq: .max)
}
