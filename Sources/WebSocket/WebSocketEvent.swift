import ImscopeCore

/// What one direction's WebSocket decoder produces.
public enum WebSocketEvent {
    case message(WebSocketMessage)
    case problem(DiagnosticKind, String)
}
