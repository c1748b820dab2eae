import ImscopeCore

extension DiagnosticKind {
    public static let captureTruncated = DiagnosticKind(
        "capture.truncated", .warning,
        "A packet was cut by the snapshot length: the bytes not captured are reported missing, never guessed.")
    public static let captureReadError = DiagnosticKind(
        "capture.read_error", .error,
        "The capture file ended in the middle of a record or could not be read further; what was read is kept.")
    public static let captureUnsupportedLink = DiagnosticKind(
        "capture.unsupported_link", .warning,
        "A file's link-layer type is not one imscope decodes; its packets are counted and skipped.")
    public static let ipMalformed = DiagnosticKind(
        "ip.malformed", .warning,
        "An IPv4 or IPv6 header is inconsistent (version, header length, total length); the packet is skipped.")
    public static let ipFragmentIncomplete = DiagnosticKind(
        "ip.fragment_incomplete", .warning,
        "IP fragments of a datagram never completed (timeout, end of capture, or a fragment cut by the snaplen).")
    public static let ipFragmentLimit = DiagnosticKind(
        "ip.fragment_limit", .warning,
        "Too many datagrams were being reassembled at once; the oldest was dropped.")
    public static let ipTunnelNotDecoded = DiagnosticKind(
        "ip.tunnel_not_decoded", .info,
        "TCP was seen inside a UDP tunnel (GTP-U, VXLAN, Geneve), which imscope does not decode: those connections "
            + "are not seen. Once per tunnel kind.")
    public static let tcpMalformed = DiagnosticKind(
        "tcp.malformed", .warning, "A TCP header is inconsistent (data offset); the packet is skipped.")

    /// The kinds this layer can raise.
    public static let captureLayer: [DiagnosticKind] = [
        .captureTruncated, .captureReadError, .captureUnsupportedLink, .ipMalformed, .ipFragmentIncomplete,
        .ipFragmentLimit, .ipTunnelNotDecoded, .tcpMalformed,
    ]
}
