import Pipeline

/// Where a record belongs in the output of a run split between threads (`--jobs N`).
///
/// One reader thread decodes packets and reassembles TCP; each decoding shard gets the events of the connections
/// whose client address falls in it, stamped with where the reader was (``Position``). Records are
/// ordered by the packet being handled when they were emitted (`frame`), the stage of that handling, then — where
/// the single-threaded run goes connection by connection (housekeeping, the end of the capture) — the connection,
/// and last the order the shard emitted them in. Each shard's records come out in this order, so merging the
/// shards by key gives exactly the single-threaded output.
public struct MergeKey: Comparable, Sendable {
    public var frame: UInt64
    public var stage: PipelineStage
    public var order: UInt64
    public var seq: UInt64

    public static func < (a: MergeKey, b: MergeKey) -> Bool {
        (a.frame, a.stage.rawValue, a.order, a.seq) < (b.frame, b.stage.rawValue, b.order, b.seq)
    }

    /// Past every key of frame `frame` up to and including `stage`.
    static func watermark(frame: UInt64, stage: PipelineStage) -> MergeKey {
        MergeKey(frame: frame, stage: stage, order: .max, seq: .max)
    }

    static let end = MergeKey(frame: .max, stage: .endSessions, order: .max, seq: .max)
}

/// Where the reader is in the capture when it hands on an event: the packet and the stage of its handling.
struct Position: Sendable {
    var frame: UInt64
    var stage: PipelineStage
}
