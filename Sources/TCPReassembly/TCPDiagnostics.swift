import ImscopeCore

extension DiagnosticKind {
    public static let tcpGap = DiagnosticKind(
        "tcp.gap", .warning,
        "Bytes of a stream were never captured (the peer acknowledged past them, or the connection ended with a "
            + "hole); they are reported missing and decoding resumes after them.")
    public static let tcpBufferLimit = DiagnosticKind(
        "tcp.buffer_limit", .warning,
        "Out-of-order bytes waiting for a hole exceeded the per-connection or total buffer limit; the hole was "
            + "declared missing to release them.")
    public static let tcpConnectionLimit = DiagnosticKind(
        "tcp.connection_limit", .warning,
        "The connection table was full; the least recently active connection was closed (reason timeout).")
    public static let tcpMidstream = DiagnosticKind(
        "tcp.midstream", .info,
        "The connection's handshake was not captured; its streams start at the first segment seen.")
    public static let tcpOutOfWindow = DiagnosticKind(
        "tcp.out_of_window", .warning,
        "A segment's sequence number is more than 1 GiB away from the expected one; it was ignored.")
    public static let tcpOverlapConflict = DiagnosticKind(
        "tcp.overlap_conflict", .warning,
        "Overlapping segments carried different bytes for the same sequence numbers; the first arrival was kept.")
    public static let tcpDataAfterClose = DiagnosticKind(
        "tcp.data_after_close", .info,
        "Payload arrived on a connection already closed by FIN or RST, or for bytes already declared missing; "
            + "it was not delivered.")

    public static let tcpLayer: [DiagnosticKind] = [
        .tcpGap, .tcpBufferLimit, .tcpConnectionLimit, .tcpMidstream, .tcpOutOfWindow, .tcpOverlapConflict,
        .tcpDataAfterClose,
    ]
}
