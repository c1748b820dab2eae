extension ServerMessage {
    /// A one-line name for reports: kind, namespace when not `/`, event name or ack id, the identifying
    /// `messageType` and `msgId` of an object first argument, and the recorded frame:
    /// `event chat messageType=7 msgId=m-12 (frame 812)`, `ack 3 (frame 90)`.
    public var label: String {
        var parts = [kind.rawValue]
        if namespace != "/" { parts.append(namespace) }
        if kind == .event, let name { parts.append(name) }
        if kind == .ack, let ackId { parts.append(String(ackId)) }
        if case .object(let first)? = args.first {
            if let t = first["messageType"] { parts.append("messageType=" + (t.idText ?? t.json)) }
            if let id = first["msgId"] { parts.append("msgId=" + (id.idText ?? id.json)) }
        }
        if let frame { parts.append("(frame \(frame))") }
        return parts.joined(separator: " ")
    }
}
