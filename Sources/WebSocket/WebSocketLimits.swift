/// Limits of the WebSocket layer.
public struct WebSocketLimits: Sendable {
    /// Bytes of one message kept (after inflating); the rest is counted, not kept (`ws.message_too_large`).
    public var maxMessageBytes = 16 << 20
    /// Bytes one compressed message may inflate to before inflating stops (`ws.inflate_context_lost` if the
    /// direction keeps its compression context). Inflating past `maxMessageBytes` only to keep the context right
    /// costs CPU, not memory.
    public var maxInflateBytes: UInt64 = 4 << 30
    /// Bytes searched for a provable frame boundary after a gap or at a mid-stream start.
    public var resyncWindow = 64 << 10
    public init() {}
}
