/// A complete WebSocket message (or control frame) of one direction.
public struct WebSocketMessage {
    public var opcode: WebSocketOpcode
    /// Sent with permessage-deflate (RSV1).
    public var compressed: Bool
    /// Frames that carried it (1 when unfragmented).
    public var fragments: Int
    /// Length after inflating; larger than `payload.count` when `truncated` or bytes were lost.
    public var length: UInt64
    /// The bytes kept: the whole message, or its beginning when truncated. For close frames, the reason.
    /// Valid only during the callback.
    public var payload: UnsafeRawBufferPointer
    /// Payload bytes on the wire (compressed size).
    public var wireLength: UInt64
    public var truncated: Bool
    /// Bytes of the message lost in gaps (on the wire).
    public var missing: UInt64
    /// Set when a compressed message could not be inflated: `payload` is empty.
    public var inflateFailed: Bool
    public var closeCode: UInt16?
    /// For text messages: whether `payload` is valid UTF-8 (invalid text is reported).
    public var validUTF8: Bool
    /// Stream position (bytes fed and lost since the start of the direction) just past the message's last byte,
    /// so the caller can tell which packet completed it — also when it is decoded later, once a frame boundary
    /// was proved.
    public var endPosition: UInt64 = 0
}
