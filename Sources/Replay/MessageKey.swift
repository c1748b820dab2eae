/// What pairs an expected server message with an actual one before their values are compared: kind, namespace,
/// event name, an ack's id, the `messageType` of an object first argument, and its `msgId` when a replayed client
/// sent that id (a server-made msgId differs on every run, so it cannot identify a message).
public struct MessageKey: Sendable, Hashable {
    public var kind: ServerMessage.Kind
    public var namespace: String
    public var name: String?
    public var ackId: Int64?
    /// The messageType, as canonical text (so `7` and `7.0` agree).
    public var messageType: String?
    public var msgId: String?

    public init(_ message: ServerMessage, clientMsgIds: Set<String>) {
        kind = message.kind
        namespace = message.namespace
        name = message.kind == .event ? message.name : nil
        ackId = message.kind == .ack ? message.ackId : nil
        if case .object(let first)? = message.args.first {
            messageType = first["messageType"].map {
                if case .number(let t) = $0 { return JSONValue.canonicalNumber(t) }
                return $0.json
            }
            msgId = first["msgId"]?.idText.flatMap { clientMsgIds.contains($0) ? $0 : nil }
        }
    }
}
