import ImscopeCore

extension DiagnosticKind {
    public static let wsBadAccept = DiagnosticKind(
        "ws.bad_accept", .error,
        "Sec-WebSocket-Accept does not match the SHA-1 of the request's Sec-WebSocket-Key (RFC 6455 section 4.2.2).")
    public static let wsMaskViolation = DiagnosticKind(
        "ws.mask_violation", .warning,
        "A client frame was not masked, or a server frame was (RFC 6455 section 5.1); the frame is decoded anyway.")
    public static let wsReservedBits = DiagnosticKind(
        "ws.reserved_bits", .warning,
        "RSV bits set without an extension that defines them (RSV1 only with permessage-deflate, on a first frame).")
    public static let wsReservedOpcode = DiagnosticKind(
        "ws.reserved_opcode", .warning, "A frame used a reserved opcode (3-7, 11-15); its payload is skipped.")
    public static let wsBadControlFrame = DiagnosticKind(
        "ws.bad_control_frame", .warning,
        "A control frame was fragmented or longer than 125 bytes (RFC 6455 section 5.5); it is decoded anyway.")
    public static let wsBadContinuation = DiagnosticKind(
        "ws.bad_continuation", .warning,
        "A continuation frame without a message to continue, or a new data frame inside a fragmented message.")
    public static let wsFrameAfterClose = DiagnosticKind(
        "ws.frame_after_close", .info,
        "A data frame followed the close frame of its direction (RFC 6455 section 5.5.1: no data frames after a "
            + "close; the peer may discard it); it is decoded and reported anyway. Once per direction. Info, not a "
            + "warning: common clients do it (python-socketio sends its DISCONNECT after its close frame).")
    public static let wsInvalidUTF8 = DiagnosticKind(
        "ws.invalid_utf8", .warning,
        "A text message is not valid UTF-8; it is shown with U+FFFD in place of the bad bytes.")
    public static let wsBadClose = DiagnosticKind(
        "ws.bad_close", .warning, "A close frame with a 1-byte payload or a reserved close code.")
    public static let wsMessageTooLarge = DiagnosticKind(
        "ws.message_too_large", .warning,
        "A message (after inflating) exceeded the message size limit; its beginning is kept, the rest counted.")
    public static let wsInflateFailed = DiagnosticKind(
        "ws.inflate_failed", .warning,
        "A compressed message could not be inflated (corrupt data, or a compression context the capture missed).")
    public static let wsInflateContextLost = DiagnosticKind(
        "ws.inflate_context_lost", .warning,
        "The compression context of a direction was lost (a gap or a failed inflate); later messages that refer to "
            + "it cannot be inflated.")
    public static let wsGap = DiagnosticKind(
        "ws.gap", .warning,
        "Bytes were lost inside a frame's payload; the frame boundary is still known, the message is incomplete.")
    public static let wsLostSync = DiagnosticKind(
        "ws.lost_sync", .warning,
        "A gap hid a frame boundary; frames are skipped until a boundary can be proved from the frames that follow.")
    public static let wsResynced = DiagnosticKind(
        "ws.resync", .info, "Frame boundaries were found again after a gap or a mid-stream start; N bytes skipped.")
    public static let wsMidstream = DiagnosticKind(
        "ws.midstream", .info,
        "A connection without a captured handshake (or whose captured start has frames but no HTTP upgrade) was "
            + "recognised as WebSocket from its frames.")
    public static let wsIncomplete = DiagnosticKind(
        "ws.incomplete", .info, "The connection ended inside a frame or a fragmented message.")

    public static let webSocketLayer: [DiagnosticKind] = [
        .wsBadAccept, .wsMaskViolation, .wsReservedBits, .wsReservedOpcode, .wsBadControlFrame, .wsBadContinuation,
        .wsFrameAfterClose, .wsInvalidUTF8, .wsBadClose, .wsMessageTooLarge, .wsInflateFailed, .wsInflateContextLost,
        .wsGap, .wsLostSync,
        .wsResynced, .wsMidstream, .wsIncomplete,
    ]
}
