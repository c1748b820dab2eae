import ImscopeCore
import JSONScan

/// Decodes Engine.IO packets and polling payloads (protocol versions 3 and 4), in place where possible.
///
/// - A packet is a type digit and data; over WebSocket one text frame is one packet. A binary frame is a binary
///   message: in version 3 its first byte is the packet type, in version 4 it is all data.
/// - Version 4 payloads: packets separated by `\u{1e}`; binary ones as `b` + base64.
/// - Version 3 text payloads: `<length>:<packet>` with the length in characters as JavaScript counts them
///   (UTF-16 code units); binary ones as `b<type><base64>`. Version 3 binary payloads (XHR2): records of
///   `0x00` (text) or `0x01` (binary), the length as one byte per decimal digit, `0xFF`, then that many bytes.
/// - Version 3 JSONP responses: `___eio[n]("<payload as a JavaScript string>");`.
public enum EngineIOPayload {
    /// Calls `emit` for one text packet (a WebSocket text frame); returns an error message when it is not one.
    public static func decodeTextPacket(_ text: UnsafeRawBufferPointer, _ emit: (EngineIOPacket) -> Void) -> String? {
        guard let first = text.first else { return "empty packet" }
        guard first >= UInt8(ascii: "0"), let type = EngineIOPacketType(rawValue: first &- UInt8(ascii: "0")) else {
            return "unknown packet type \"\(Unicode.Scalar(first))\""
        }
        emit(EngineIOPacket(type: type, data: UnsafeRawBufferPointer(rebasing: text[1...]), binary: false))
        return nil
    }

    /// Calls `emit` for one binary WebSocket message.
    public static func decodeBinaryPacket(
        _ bytes: UnsafeRawBufferPointer, version: Int, _ emit: (EngineIOPacket) -> Void
    ) -> String? {
        if version >= 4 {
            emit(EngineIOPacket(type: .message, data: bytes, binary: true))
            return nil
        }
        guard let first = bytes.first, let type = EngineIOPacketType(rawValue: first) else {
            return "binary packet with unknown type byte"
        }
        emit(EngineIOPacket(type: type, data: UnsafeRawBufferPointer(rebasing: bytes[1...]), binary: true))
        return nil
    }

    /// Decodes a polling payload (a request or response body); returns an error message for the first fault.
    public static func decodePayload(
        _ body: UnsafeRawBufferPointer, version: Int, jsonp: Bool = false, _ emit: (EngineIOPacket) -> Void
    ) -> String? {
        if jsonp {
            guard let inner = unwrapJSONP(body) else { return "JSONP response is not ___eio[n](\"...\");" }
            return inner.withUnsafeBytes { decodeV3Text($0, emit) }
        }
        if version >= 4 { return decodeV4(body, emit) }
        if let first = body.first, first == 0x00 || first == 0x01 { return decodeV3Binary(body, emit) }
        return decodeV3Text(body, emit)
    }

    static func decodeV4(_ body: UnsafeRawBufferPointer, _ emit: (EngineIOPacket) -> Void) -> String? {
        var start = 0
        var problem: String? = nil
        for i in 0...body.count where i == body.count || body[i] == 0x1E {
            let part = UnsafeRawBufferPointer(rebasing: body[start..<i])
            start = i + 1
            if part.first == UInt8(ascii: "b") {
                guard let data = Base64.decode(UnsafeRawBufferPointer(rebasing: part[1...])) else {
                    problem = problem ?? "bad base64 in a binary packet"
                    continue
                }
                data.withUnsafeBytes { emit(EngineIOPacket(type: .message, data: $0, binary: true)) }
            } else if let error = decodeTextPacket(part, emit) {
                problem = problem ?? error
            }
        }
        return problem
    }

    static func decodeV3Text(_ body: UnsafeRawBufferPointer, _ emit: (EngineIOPacket) -> Void) -> String? {
        var i = 0
        let n = body.count
        while i < n {
            var length = 0
            var digits = 0
            while i < n, body[i] >= UInt8(ascii: "0"), body[i] <= UInt8(ascii: "9"), digits < 10 {
                length = length * 10 + Int(body[i] - UInt8(ascii: "0"))
                i += 1
                digits += 1
            }
            guard digits > 0, i < n, body[i] == UInt8(ascii: ":") else {
                return "expected <length>: at byte \(i) of the payload"
            }
            i += 1
            // The length counts UTF-16 code units: walk that many through the UTF-8.
            var units = 0
            var j = i
            while units < length && j < n {
                let b = body[j]
                let size = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                units += size == 4 ? 2 : 1
                j += size
            }
            guard units == length, j <= n else {
                return "packet length \(length) runs past the end of the payload"
            }
            let packet = UnsafeRawBufferPointer(rebasing: body[i..<j])
            i = j
            if packet.first == UInt8(ascii: "b") && packet.count >= 2 {
                guard let type = EngineIOPacketType(rawValue: packet[1] &- UInt8(ascii: "0")),
                    let data = Base64.decode(UnsafeRawBufferPointer(rebasing: packet[2...]))
                else { return "bad base64 packet in the payload" }
                data.withUnsafeBytes { emit(EngineIOPacket(type: type, data: $0, binary: true)) }
            } else if let error = decodeTextPacket(packet, emit) {
                return error
            }
        }
        return nil
    }

    static func decodeV3Binary(_ body: UnsafeRawBufferPointer, _ emit: (EngineIOPacket) -> Void) -> String? {
        var i = 0
        let n = body.count
        while i < n {
            let isBinary = body[i] == 0x01
            guard body[i] <= 0x01 else { return "bad record type \(body[i]) in a binary payload" }
            i += 1
            var length = 0
            var digits = 0
            while i < n, body[i] != 0xFF {
                guard body[i] <= 9, digits < 10 else { return "bad length digit in a binary payload" }
                length = length * 10 + Int(body[i])
                digits += 1
                i += 1
            }
            guard i < n, digits > 0 else { return "binary payload record without a length" }
            i += 1
            guard i + length <= n else { return "binary payload record of \(length) bytes runs past the end" }
            let packet = UnsafeRawBufferPointer(rebasing: body[i..<(i + length)])
            i += length
            if isBinary {
                if let error = decodeBinaryPacket(packet, version: 3, emit) { return error }
            } else if let error = decodeTextPacket(packet, emit) {
                return error
            }
        }
        return nil
    }

    /// `___eio[3]("...");` → the string's contents, JavaScript escapes decoded.
    static func unwrapJSONP(_ body: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let open = body.firstIndex(of: UInt8(ascii: "(")), let close = body.lastIndex(of: UInt8(ascii: ")")),
            open < close
        else { return nil }
        let literal = UnsafeRawBufferPointer(rebasing: body[(open + 1)..<close])
        let scanner = JSONScanner(literal)
        guard let text = scanner.decodeString(0..<literal.count) else { return nil }
        return Array(text.utf8)
    }

    /// Reads an open packet's JSON.
    public static func handshake(_ json: UnsafeRawBufferPointer) -> EngineIOHandshake? {
        let s = JSONScanner(json)
        let all = 0..<json.count
        guard s.kind(at: 0) == .object, let sidRange = s.member("sid", in: all), let sid = s.decodeString(sidRange)
        else { return nil }
        var upgrades: [String] = []
        if let u = s.member("upgrades", in: all), let elements = s.arrayElements(u) {
            upgrades = elements.compactMap { s.decodeString($0) }
        }
        return EngineIOHandshake(
            sid: sid, upgrades: upgrades, pingInterval: s.member("pingInterval", in: all).flatMap(s.decodeInteger),
            pingTimeout: s.member("pingTimeout", in: all).flatMap(s.decodeInteger),
            maxPayload: s.member("maxPayload", in: all).flatMap(s.decodeInteger))
    }
}
