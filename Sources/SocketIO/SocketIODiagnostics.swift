import ImscopeCore

extension DiagnosticKind {
    public static let sioBadPacket = DiagnosticKind(
        "sio.bad_packet", .warning,
        "A Socket.IO packet that cannot be parsed (unknown type, bad JSON, an event without a name); its raw text is "
            + "kept in the diagnostic.")
    public static let sioAttachmentMissing = DiagnosticKind(
        "sio.attachment_missing", .warning,
        "A binary packet's attachments did not all arrive (another packet came first, or the session ended).")
    public static let sioUnexpectedBinary = DiagnosticKind(
        "sio.unexpected_binary", .warning, "A binary Engine.IO message arrived with no binary packet waiting for it.")
    public static let sioAckUnmatched = DiagnosticKind(
        "sio.ack_unmatched", .warning, "An ACK whose id matches no request of the same session and namespace.")
    public static let sioAckMissing = DiagnosticKind(
        "sio.ack_missing", .warning, "A request asked for an acknowledgement that never came.")

    public static let socketIOLayer: [DiagnosticKind] = [
        .sioBadPacket, .sioAttachmentMissing, .sioUnexpectedBinary, .sioAckUnmatched, .sioAckMissing,
    ]
}
