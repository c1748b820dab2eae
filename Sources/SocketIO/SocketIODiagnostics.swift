import ImscopeCore

extension DiagnosticKind {
    public static let sioBadPacket = DiagnosticKind(
        "sio.bad_packet", .warning,
        "A Socket.IO packet that cannot be parsed (empty, unknown type, a binary type without its attachment count, "
            + "bad JSON); its raw text is kept in the diagnostic, and it makes no record.")
    public static let sioInvalidPayload = DiagnosticKind(
        "sio.invalid_payload", .warning,
        "A Socket.IO packet whose payload breaks its type's rules: a CONNECT payload that is not an object, a "
            + "DISCONNECT with a payload, a CONNECT_ERROR neither string nor object, an EVENT without an array "
            + "starting with a name (a string or a number) or with a reserved name (protocol 5), an ACK without an "
            + "array or an id. The reference parsers reject it (\"invalid payload\"); its record is kept, the payload "
            + "shown as it came.")
    public static let sioBadPlaceholder = DiagnosticKind(
        "sio.bad_placeholder", .warning,
        "A binary packet whose placeholders do not match its attachments: a placeholder whose num is not an integer "
            + "naming one of them (the reference parsers throw \"illegal attachments\"; the placeholder is shown as "
            + "sent), or an attachment no placeholder names (its bytes appear in no record).")
    public static let sioAttachmentMissing = DiagnosticKind(
        "sio.attachment_missing", .warning,
        "A binary packet's attachments did not all arrive (another packet came first, or the session ended).")
    public static let sioUnexpectedBinary = DiagnosticKind(
        "sio.unexpected_binary", .warning, "A binary Engine.IO message arrived with no binary packet waiting for it.")
    public static let sioAckUnmatched = DiagnosticKind(
        "sio.ack_unmatched", .warning,
        "An ACK whose id matches no request of the same session and namespace: none before it, nor within the "
            + "reorder window of acknowledgements after it (1 s of capture time) or before its session ended.")
    public static let sioAckMissing = DiagnosticKind(
        "sio.ack_missing", .warning, "A request asked for an acknowledgement that never came.")

    public static let socketIOLayer: [DiagnosticKind] = [
        .sioBadPacket, .sioInvalidPayload, .sioBadPlaceholder, .sioAttachmentMissing, .sioUnexpectedBinary,
        .sioAckUnmatched, .sioAckMissing,
    ]
}
