import Pipeline

/// Where the reader is in the capture when it hands on an event: the packet and the stage of its handling.
struct Position: Sendable {
    var frame: UInt64
    var stage: PipelineStage
}
