/// Engine.IO packet types (the same numbers in protocol versions 3 and 4).
public enum EngineIOPacketType: UInt8, Sendable, CaseIterable {
    case open = 0, close, ping, pong, message, upgrade, noop

    public var staticName: StaticString {
        switch self {
        case .open: return "open"
        case .close: return "close"
        case .ping: return "ping"
        case .pong: return "pong"
        case .message: return "message"
        case .upgrade: return "upgrade"
        case .noop: return "noop"
        }
    }

    public var name: String { staticName.description }
}

/// One Engine.IO packet: its type and data, a view valid during the callback that delivers it.
public struct EngineIOPacket {
    public var type: EngineIOPacketType
    public var data: UnsafeRawBufferPointer
    /// Binary data (a binary WebSocket frame, a binary payload record, or base64 in a text payload).
    public var binary: Bool

    public init(type: EngineIOPacketType, data: UnsafeRawBufferPointer, binary: Bool) {
        self.type = type
        self.data = data
        self.binary = binary
    }
}

/// The fields of an `open` packet's JSON.
public struct EngineIOHandshake: Sendable, Equatable {
    public var sid: String
    public var upgrades: [String]
    public var pingInterval: Int64?
    public var pingTimeout: Int64?
    public var maxPayload: Int64?
}
