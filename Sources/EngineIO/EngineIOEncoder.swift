import ImscopeCore

/// An Engine.IO packet to send, owned: the input of ``EngineIOEncoder``.
public struct EngineIOOutgoingPacket: Sendable, Equatable {
    public var type: EngineIOPacketType
    public var data: [UInt8]
    /// Binary data: a binary frame, a binary record of a version 3 XHR2 payload, or base64 (`b…`) in text.
    public var binary: Bool

    public init(type: EngineIOPacketType, data: [UInt8] = [], binary: Bool = false) {
        self.type = type
        self.data = data
        self.binary = binary
    }

    /// A text packet whose data is `text`'s UTF-8.
    public init(type: EngineIOPacketType, text: String) { self.init(type: type, data: Array(text.utf8)) }

    /// A copy of a decoded packet (its data is a view valid during the callback only).
    public init(_ packet: EngineIOPacket) {
        self.init(type: packet.type, data: Array(packet.data), binary: packet.binary)
    }

    /// `1`: close.
    public static let close = EngineIOOutgoingPacket(type: .close)
    /// `2`: ping (the server's heartbeat in version 4, the client's in version 3).
    public static let ping = EngineIOOutgoingPacket(type: .ping)
    /// `3`: pong.
    public static let pong = EngineIOOutgoingPacket(type: .pong)
    /// `2probe`: the client's probe on a new WebSocket, before the upgrade.
    public static let pingProbe = EngineIOOutgoingPacket(type: .ping, text: "probe")
    /// `3probe`: the server's answer to the probe.
    public static let pongProbe = EngineIOOutgoingPacket(type: .pong, text: "probe")
    /// `5`: upgrade, sent by the client on the WebSocket once the probe is answered.
    public static let upgrade = EngineIOOutgoingPacket(type: .upgrade)
    /// `6`: noop, which ends a pending poll during the upgrade.
    public static let noop = EngineIOOutgoingPacket(type: .noop)

    /// A message packet carrying `text` (a Socket.IO packet's text).
    public static func message(_ text: [UInt8]) -> EngineIOOutgoingPacket { .init(type: .message, data: text) }
    /// A binary message packet (a Socket.IO attachment).
    public static func binaryMessage(_ bytes: [UInt8]) -> EngineIOOutgoingPacket {
        .init(type: .message, data: bytes, binary: true)
    }
}

/// One WebSocket message: its opcode (text or binary) and its bytes.
public enum EngineIOFrame: Sendable, Equatable {
    case text([UInt8])
    case binary([UInt8])
}

/// Encodes Engine.IO packets and polling payloads (protocol versions 3 and 4) as the reference encoders do
/// (engine.io-parser 2.2.1 for version 3, 5.2.2 for version 4), to the forms ``EngineIOPayload`` decodes. Pure: no
/// I/O.
///
/// Where the versions differ:
/// - A binary packet over WebSocket is the raw bytes in version 4 (always a message: version 4 has no binary packet
///   of another type), and the type byte (`0x04` for a message) then the bytes in version 3.
/// - Base64 for a peer without binary (`b64=1`, or any text-only transport): `b<base64>` in version 4,
///   `b<type digit><base64>` in version 3.
/// - Payloads: version 4 joins packets with `\u{1e}`, binary ones as base64. Version 3 writes `<length>:<packet>`,
///   the length in UTF-16 code units as JavaScript counts a string (`message.length` in 2.2.1's
///   `setLengthHeader`); an empty payload is `0:` (2.2.1's `encodePayload([])`). With binary supported and a
///   binary packet among them (2.2.1's `encodePayloadAsBinary`, XHR2), records of `0x00` (text: its UTF-8 bytes)
///   or `0x01` (binary: the type byte, then the data), the length in bytes as one byte per decimal digit, `0xFF`,
///   then the record.
public enum EngineIOEncoder {
    /// The type digit and the data: `4hello`.
    public static func textPacket(_ packet: EngineIOOutgoingPacket) -> [UInt8] {
        [UInt8(ascii: "0") + packet.type.rawValue] + packet.data
    }

    /// `b<base64>` (version 4, a message) or `b<type digit><base64>` (version 3).
    public static func base64Packet(_ packet: EngineIOOutgoingPacket, version: Int) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "b")]
        if version < 4 { out.append(UInt8(ascii: "0") + packet.type.rawValue) }
        out += Array(Base64.encode(packet.data).utf8)
        return out
    }

    /// A packet as one WebSocket message. A binary packet is a binary message when `supportsBinary` (the
    /// default, as over WebSocket), base64 text otherwise. Version 4 has binary messages only: the type of any
    /// other binary packet is not carried (as in its base64 and payload forms).
    public static func frame(_ packet: EngineIOOutgoingPacket, version: Int, supportsBinary: Bool = true)
        -> EngineIOFrame
    {
        guard packet.binary else { return .text(textPacket(packet)) }
        guard supportsBinary else { return .text(base64Packet(packet, version: version)) }
        return .binary(version >= 4 ? packet.data : [packet.type.rawValue] + packet.data)
    }

    /// A polling payload (a POST body or a GET response) of several packets. `supportsBinary` chooses, in version
    /// 3, the XHR2 binary payload when a packet is binary (as 2.2.1 does); version 4 payloads are always text.
    public static func payload(_ packets: [EngineIOOutgoingPacket], version: Int, supportsBinary: Bool = false)
        -> [UInt8]
    {
        if version >= 4 {
            var out: [UInt8] = []
            for (i, p) in packets.enumerated() {
                if i > 0 { out.append(0x1E) }
                out += p.binary ? base64Packet(p, version: 4) : textPacket(p)
            }
            return out
        }
        if supportsBinary && packets.contains(where: \.binary) { return binaryPayload(packets) }
        guard !packets.isEmpty else { return Array("0:".utf8) }
        var out: [UInt8] = []
        for p in packets {
            let packet = p.binary ? base64Packet(p, version: 3) : textPacket(p)
            out += Array(String(utf16Length(packet)).utf8) + [UInt8(ascii: ":")] + packet
        }
        return out
    }

    /// A version 3 XHR2 payload: every packet a record, text ones as their UTF-8 bytes.
    public static func binaryPayload(_ packets: [EngineIOOutgoingPacket]) -> [UInt8] {
        var out: [UInt8] = []
        for p in packets {
            let record = p.binary ? [p.type.rawValue] + p.data : textPacket(p)
            out.append(p.binary ? 0x01 : 0x00)
            out += String(record.count).utf8.map { $0 - UInt8(ascii: "0") }
            out.append(0xFF)
            out += record
        }
        return out
    }

    /// The length JavaScript gives the string these UTF-8 bytes spell: UTF-16 code units (a 4-byte sequence is
    /// two), walked as ``EngineIOPayload`` walks them when it decodes (by lead byte).
    public static func utf16Length(_ utf8: [UInt8]) -> Int {
        var units = 0
        var j = 0
        while j < utf8.count {
            let b = utf8[j]
            let size = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            units += size == 4 ? 2 : 1
            j += size
        }
        return units
    }
}
