import ImscopeCore

extension DiagnosticKind {
    public static let appOtherProtocol = DiagnosticKind(
        "app.other_protocol", .info,
        "A connection whose start was captured began with bytes that are neither HTTP/1.x nor WebSocket frames: "
            + "another protocol (TLS, SSH, SMTP, HTTP/2, a database...). It is not decoded, and no http.* or ws.* "
            + "diagnostic is raised for it. Once per connection.")
    public static let appUnrecognized = DiagnosticKind(
        "app.unrecognized", .info,
        "A connection picked up mid-stream showed neither HTTP/1.x nor provable WebSocket frames, by its end or in "
            + "its first 128 KiB; it is not decoded. Once per connection.")

    /// The kinds raised where a connection's application protocol is chosen (``ConnectionDecoder``).
    public static let applicationLayer: [DiagnosticKind] = [.appOtherProtocol, .appUnrecognized]
}
