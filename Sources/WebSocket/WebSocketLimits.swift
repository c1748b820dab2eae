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
    /// Packets remembered per direction while frames are searched for (which packet brought which bytes, so that
    /// a message decoded once a boundary is proved is placed at the packet that completed it); past it the older
    /// half is forgotten, and such a message is placed at the packet at hand.
    public var maxSearchPackets = 65_536
    public init() {}
}
