import ImscopeCore

extension DiagnosticKind {
    public static let eioBadPacket = DiagnosticKind(
        "eio.bad_packet", .warning, "An Engine.IO packet with an unknown type or no type; it is skipped.")
    public static let eioBadPayload = DiagnosticKind(
        "eio.bad_payload", .warning,
        "A polling payload whose framing is broken (a length that lies, a bad separator, bad base64); the packets "
            + "before the fault are kept.")
    public static let eioBadOpen = DiagnosticKind(
        "eio.bad_open", .warning,
        "An open packet whose data is not a JSON object with a string sid (one without data is decoded as the "
            + "reference parsers do, without a diagnostic).")
    public static let eioVersionGuessed = DiagnosticKind(
        "eio.version_guessed", .info,
        "The Engine.IO version was not in the captured handshake; it was inferred from who pings and how binary is "
            + "framed.")
    public static let eioUnknownSession = DiagnosticKind(
        "eio.unknown_session", .info,
        "A request names an Engine.IO session whose handshake was not captured; its packets are decoded with a "
            + "guessed version.")

    public static let engineIOLayer: [DiagnosticKind] = [
        .eioBadPacket, .eioBadPayload, .eioBadOpen, .eioVersionGuessed, .eioUnknownSession,
    ]
}
