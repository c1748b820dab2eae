/// A WebSocket frame opcode (RFC 6455 section 5.2). A struct over the raw value, so unknown opcodes are
/// representable and reported rather than rejected.
public struct WebSocketOpcode: Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let continuation = WebSocketOpcode(rawValue: 0x0)
    public static let text = WebSocketOpcode(rawValue: 0x1)
    public static let binary = WebSocketOpcode(rawValue: 0x2)
    public static let close = WebSocketOpcode(rawValue: 0x8)
    public static let ping = WebSocketOpcode(rawValue: 0x9)
    public static let pong = WebSocketOpcode(rawValue: 0xA)

    /// Control frames have the high bit of the opcode set.
    public var isControl: Bool { rawValue & 0x8 != 0 }
    /// Opcodes RFC 6455 defines; the others are reserved.
    public var isKnown: Bool { rawValue <= 2 || (rawValue >= 8 && rawValue <= 10) }

    /// The name used in every output format.
    public var name: String {
        switch rawValue {
        case 0x0: return "continuation"
        case 0x1: return "text"
        case 0x2: return "binary"
        case 0x8: return "close"
        case 0x9: return "ping"
        case 0xA: return "pong"
        default: return "reserved-\(rawValue)"
        }
    }
}

/// A parsed frame header.
public struct WebSocketFrameHeader: Sendable, Equatable {
    public var fin: Bool
    public var rsv1: Bool
    public var rsv2: Bool
    public var rsv3: Bool
    public var opcode: WebSocketOpcode
    public var masked: Bool
    public var maskKey: UInt32
    public var length: UInt64
    /// Bytes the header took on the wire (2 to 14).
    public var headerLength: Int

    /// Parses a header from the start of `bytes`: nil when more bytes are needed.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> WebSocketFrameHeader? {
        guard bytes.count >= 2 else { return nil }
        let b0 = bytes[0]
        let b1 = bytes[1]
        let masked = b1 & 0x80 != 0
        var length = UInt64(b1 & 0x7F)
        var offset = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            offset = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = 0
            for k in 2..<10 { length = length << 8 | UInt64(bytes[k]) }
            offset = 10
        }
        var key: UInt32 = 0
        if masked {
            guard bytes.count >= offset + 4 else { return nil }
            key =
                UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
                | UInt32(bytes[offset + 3])
            offset += 4
        }
        return WebSocketFrameHeader(
            fin: b0 & 0x80 != 0, rsv1: b0 & 0x40 != 0, rsv2: b0 & 0x20 != 0, rsv3: b0 & 0x10 != 0,
            opcode: WebSocketOpcode(rawValue: b0), masked: masked, maskKey: key, length: length, headerLength: offset)
    }

    /// The header length announced by the first two bytes.
    static func headerLength(_ b1: UInt8) -> Int {
        let base = b1 & 0x7F == 126 ? 4 : b1 & 0x7F == 127 ? 10 : 2
        return base + (b1 & 0x80 != 0 ? 4 : 0)
    }
}
