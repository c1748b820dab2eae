import ImscopeCore
import JSONScan

/// Decodes Engine.IO packets and polling payloads (protocol versions 3 and 4), in place where possible.
///
/// - A packet is a type digit and data; over WebSocket one text frame is one packet. A binary frame is a binary
///   message: in version 3 its first byte is the packet type, in version 4 it is all data. A text packet that starts
///   with `b` is binary data in base64 (a peer that cannot send binary frames, `b64=1`): `b<base64>` in version 4,
///   `b<type><base64>` in version 3.
/// - Version 4 payloads: packets separated by `\u{1e}`.
/// - Version 3 text payloads: `<length>:<packet>` with the length in characters as JavaScript counts them
///   (UTF-16 code units); binary ones as `b<type><base64>`. Version 3 binary payloads (XHR2): records of
///   `0x00` (text) or `0x01` (binary), the length as one byte per decimal digit, `0xFF`, then that many bytes.
/// - Version 3 JSONP responses: `___eio[n]("<payload as a JavaScript string>");`.
public enum EngineIOPayload {
    /// Calls `emit` for one text packet (a WebSocket text frame, or one packet of a payload) of protocol `version`;
    /// returns an error message when it is not one.
    public static func decodeTextPacket(
        _ text: UnsafeRawBufferPointer, version: Int, _ emit: (EngineIOPacket) -> Void
    ) -> String? {
        guard let first = text.first else { return "empty packet" }
        guard first >= UInt8(ascii: "0"), let type = EngineIOPacketType(rawValue: first &- UInt8(ascii: "0")) else {
            if first == UInt8(ascii: "b") { return decodeBase64Packet(text, version: version, emit) }
            return "unknown packet type \"\(Unicode.Scalar(first))\""
        }
        emit(EngineIOPacket(type: type, data: UnsafeRawBufferPointer(rebasing: text[1...]), binary: false))
        return nil
    }

    /// `b<base64>` (version 4: a message) or `b<type><base64>` (version 3).
    static func decodeBase64Packet(
        _ text: UnsafeRawBufferPointer, version: Int, _ emit: (EngineIOPacket) -> Void
    ) -> String? {
        var type = EngineIOPacketType.message
        var start = 1
        if version < 4 {
            guard text.count >= 2, let t = EngineIOPacketType(rawValue: text[1] &- UInt8(ascii: "0")) else {
                return "base64 packet without a packet type"
            }
            type = t
            start = 2
        }
        guard let data = Base64.decode(UnsafeRawBufferPointer(rebasing: text[start...])) else {
            return "bad base64 in a binary packet"
        }
        data.withUnsafeBytes { emit(EngineIOPacket(type: type, data: $0, binary: true)) }
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

    /// Every packet is decoded, also after a bad one (the reference parser stops at the first: a separator makes
    /// the next packet easy to find). An empty body is one empty packet, an error, as for the reference parser.
    static func decodeV4(_ body: UnsafeRawBufferPointer, _ emit: (EngineIOPacket) -> Void) -> String? {
        guard !body.isEmpty else { return "empty payload" }
        var start = 0
        var problem: String? = nil
        for i in 0...body.count where i == body.count || body[i] == 0x1E {
            let part = UnsafeRawBufferPointer(rebasing: body[start..<i])
            start = i + 1
            if let error = decodeTextPacket(part, version: 4, emit) { problem = problem ?? error }
        }
        return problem
    }

    /// Decoding stops at the first fault, as the reference parser's does (a length that lies leaves nothing to
    /// resume at). `0:`, an empty packet, is what the reference encoder writes for no packets: it is skipped.
    static func decodeV3Text(_ body: UnsafeRawBufferPointer, _ emit: (EngineIOPacket) -> Void) -> String? {
        var i = 0
        let n = body.count
        guard n > 0 else { return "empty payload" }
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
            if packet.isEmpty { continue }
            if let error = decodeTextPacket(packet, version: 3, emit) { return error }
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
            } else if let error = decodeTextPacket(packet, version: 3, emit) {
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

    /// Whether an open packet's data is wrong: present but not a handshake (a JSON object with a string `sid`). An
    /// open packet without data is not: the reference parsers decode it as a valid packet (their own test vectors
    /// round-trip it).
    public static func isBadOpen(_ data: UnsafeRawBufferPointer) -> Bool { !data.isEmpty && handshake(data) == nil }

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
