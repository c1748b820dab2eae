import ImscopeCore

extension DiagnosticKind {
    public static let httpMalformed = DiagnosticKind(
        "http.malformed", .warning,
        "An HTTP start line, header or chunk size could not be parsed; the parser looks for the next message.")
    public static let httpHeadTooLarge = DiagnosticKind(
        "http.head_too_large", .warning,
        "An HTTP message head exceeded the head size limit (64 KiB); the parser looks for the next message.")
    public static let httpLostSync = DiagnosticKind(
        "http.lost_sync", .warning,
        "A gap fell where HTTP framing was needed; bytes are skipped until the next request or status line.")
    public static let httpBodyGap = DiagnosticKind(
        "http.body_gap", .warning, "A gap fell inside an HTTP body of known length; the body is incomplete.")
    public static let httpUnansweredUpgrade = DiagnosticKind(
        "http.upgrade_refused", .info, "A WebSocket upgrade request was answered with a status other than 101.")
    public static let httpIncomplete = DiagnosticKind(
        "http.incomplete", .info, "The connection ended in the middle of an HTTP message.")

    public static let httpLayer: [DiagnosticKind] = [
        .httpMalformed, .httpHeadTooLarge, .httpLostSync, .httpBodyGap, .httpUnansweredUpgrade, .httpIncomplete,
    ]
}
