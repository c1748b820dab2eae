import EngineIO
import IMProtocol
import ImscopeCore
import JSONScan
import Records
import SocketIO
import UTF8Validation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension JSONLRenderer {
    /// The keys every Engine.IO and Socket.IO record starts with: transport, sid, and `eio` opened with its version
    /// and type.
    func writeEngineIOHead(_ transport: Transport, _ sid: String?, _ version: Int, type: StaticString) {
        switch transport {
        case .websocket: out.append(",\"transport\":\"websocket\"" as StaticString)
        case .polling: out.append(",\"transport\":\"polling\"" as StaticString)
        }
        if let sid {
            out.append(",\"sid\":" as StaticString)
            out.appendJSONString(sid)
        }
        out.append(",\"eio\":{\"version\":" as StaticString)
        out.append(int: version)
        out.append(",\"type\":\"" as StaticString)
        out.append(type)
    }

    func writeEIO(_ r: EIORecord) {
        writeEngineIOHead(r.transport, r.sid, r.version, type: r.type.staticName)
        out.append(byte: UInt8(ascii: "\""))
        if let h = r.handshake {
            out.append(",\"data\":" as StaticString)
            writeJSON(r.data)
            out.append(",\"sid\":" as StaticString)
            out.appendJSONString(h.sid)
            if let v = h.pingInterval {
                out.append(",\"pingInterval\":" as StaticString)
                out.append(int: v)
            }
            if let v = h.pingTimeout {
                out.append(",\"pingTimeout\":" as StaticString)
                out.append(int: v)
            }
            out.append(",\"upgrades\":[" as StaticString)
            for (i, u) in h.upgrades.enumerated() {
                if i > 0 { out.append(byte: UInt8(ascii: ",")) }
                out.appendJSONString(u)
            }
            out.append(byte: UInt8(ascii: "]"))
        } else if r.data.count > 0 {
            out.append(",\"data\":" as StaticString)
            appendWireText(r.data)
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    func writeSIO(
        _ transport: Transport, sid: String?, version: Int, message m: SocketIOMessage, im: IMMessage?,
        ts: Timestamp?, conn: Int?
    ) {
        let p = m.packet
        if let conn {
            heads.lend(conn) { head in
                if head.holds(transport, version, sid) {
                    head.bytes.withUnsafeBytes { out.append($0) }
                    return
                }
                let start = out.count
                writeEngineIOHead(transport, sid, version, type: "message")
                out.append("\"},\"sio\":{\"type\":\"" as StaticString)
                head.transport = transport
                head.version = version
                head.sid = sid
                head.bytes = Array(UnsafeBufferPointer(start: out.base + start, count: out.count - start))
            }
        } else {
            writeEngineIOHead(transport, sid, version, type: "message")
            out.append("\"},\"sio\":{\"type\":\"" as StaticString)
        }
        out.append(p.type.staticName)
        if p.namespace == "/" {
            out.append("\",\"nsp\":\"/\"" as StaticString)
        } else {
            out.append("\",\"nsp\":" as StaticString)
            out.appendJSONString(p.namespace)
        }
        if let id = p.ackId {
            out.append(",\"ackId\":" as StaticString)
            out.append(int: id)
        }
        let scanner = JSONScanner(m.text, trusted: true)  // validated when the packet was parsed
        if let data = p.data {
            if p.type.isEvent || p.type.isAck, p.elements != nil {
                if m.validUTF8, let raw = p.eventNameBytes(in: m.text) {
                    out.append(",\"event\":\"" as StaticString)  // no escapes, no control characters: as sent
                    out.append(raw)
                    out.append(byte: UInt8(ascii: "\""))
                } else if let name = p.eventName(in: m.text) {
                    out.append(",\"event\":" as StaticString)
                    out.appendJSONString(name)
                }
                out.append(",\"args\":[" as StaticString)
                if let elements = p.elements {
                    let first = p.firstArgument
                    for k in first..<max(first, elements.count) {
                        if k > first { out.append(byte: UInt8(ascii: ",")) }
                        writeValue(scanner, elements[k], m.attachments, valid: m.validUTF8)
                    }
                }
                out.append(byte: UInt8(ascii: "]"))
            } else {
                out.append(",\"data\":" as StaticString)
                writeValue(scanner, data, m.attachments, valid: m.validUTF8)
            }
        }
        if p.type.isBinary {
            out.append(",\"attachments\":" as StaticString)
            out.append(int: p.attachments)
        }
        out.append(byte: UInt8(ascii: "}"))
        if let im { writeIM(im, argument: m.imArgument, valid: m.validUTF8) }
        if let answers = m.answers, let ts {
            out.append(",\"ack\":{\"frame\":" as StaticString)
            out.append(int: answers.frame)
            out.append(",\"latencyMs\":" as StaticString)
            out.appendMilliseconds(nanoseconds: ts.nanoseconds - answers.ts.nanoseconds)
            out.append(byte: UInt8(ascii: "}"))
        }
    }

    /// `valid`: the message text was valid UTF-8, so the content (a copy of part of it, or decoded from it) is too.
    func writeIM(_ im: IMMessage, argument: UnsafeRawBufferPointer, valid: Bool) {
        out.append(",\"im\":{" as StaticString)
        var first = true
        // `k` is the key with its comma and colon (`,"msgId":`): one copy, without the comma for the first key.
        func key(_ k: StaticString) {
            out.append(
                UnsafeRawBufferPointer(
                    start: k.utf8Start + (first ? 1 : 0), count: k.utf8CodeUnitCount - (first ? 1 : 0)))
            first = false
        }
        if let t = im.messageType {
            key(",\"messageType\":")
            out.append(int: t)
        } else if let huge = im.hugeMessageType {
            key(",\"messageType\":")
            out.append(huge)
        }
        if let info = im.info {
            if !first { out.append(byte: UInt8(ascii: ",")) }
            first = false
            appendTypeInfo(info)
        }
        func text(_ k: StaticString, _ value: IMText?) {
            guard let value else { return }
            if case .bytes(let r) = value, valid {
                // The characters of a JSON string without escapes, or a number: as they stand, quoted, written with
                // the key in one piece.
                let skip = first ? 1 : 0
                let keyCount = k.utf8CodeUnitCount - skip
                let p = out.reserve(keyCount + r.count + 2)
                UnsafeMutableRawPointer(p).copyMemory(from: k.utf8Start + skip, byteCount: keyCount)
                p[keyCount] = UInt8(ascii: "\"")
                UnsafeMutableRawPointer(p + keyCount + 1).copyMemory(
                    from: argument.baseAddress! + r.lowerBound, byteCount: r.count)
                p[keyCount + 1 + r.count] = UInt8(ascii: "\"")
                out.commit(keyCount + r.count + 2)
                first = false
            } else {
                key(k)
                out.appendJSONString(value.string(in: argument))
            }
        }
        text(",\"msgId\":", im.msgId)
        text(",\"fromId\":", im.fromId)
        text(",\"destId\":", im.destId)
        if let f = im.fromType {
            key(",\"fromType\":")
            out.append(int: f)
        }
        if let n = im.fromTypeName {
            key(",\"fromTypeName\":")
            out.appendJSONString(n)
        }
        im.withContentJSON(in: argument) { content in
            guard let content else { return }
            key(",\"content\":")
            writeJSON(content, valid: valid)
        }
        key(",\"warnings\":")
        out.append(byte: UInt8(ascii: "["))
        for (i, w) in im.warnings.enumerated() {
            if i > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append("{\"code\":" as StaticString)
            out.appendJSONString(w.code)
            out.append(",\"message\":" as StaticString)
            out.appendJSONString(w.message)
            out.append(byte: UInt8(ascii: "}"))
        }
        out.append("]}" as StaticString)
    }

    /// `"typeName":…,"description":…,"direction":…` of a messageType, rendered once per type and copied after.
    func appendTypeInfo(_ info: MessageTypeInfo) {
        let t = info.messageType
        if t >= 0 && t < typeInfoJSON.count, let cached = typeInfoJSON[t], cached.matches(info) {
            cached.json.withUnsafeBytes { out.append($0) }
            return
        }
        let start = out.count
        out.appendTypeInfoFields(info)
        if t >= 0 && t < 4096 {
            if typeInfoJSON.count <= t { typeInfoJSON += Array(repeating: nil, count: t + 1 - typeInfoJSON.count) }
            typeInfoJSON[t] = TypeInfoJSON(
                info: info, json: Array(UnsafeBufferPointer(start: out.base + start, count: out.count - start)))
        }
    }

    /// Copies a JSON value through, replacing Socket.IO binary placeholders (`{"_placeholder":true,"num":n}`)
    /// by `{"_binary":"<base64>"}`; without attachments the bytes are copied as they are.
    func writeValue(_ s: JSONScanner, _ range: Range<Int>, _ attachments: [[UInt8]], valid: Bool = false) {
        if attachments.isEmpty {
            writeJSON(UnsafeRawBufferPointer(rebasing: s.bytes[range]), valid: valid)
            return
        }
        switch s.kind(at: range.lowerBound) {
        case .object:
            let members = s.objectMembers(range) ?? []
            if let num = placeholder(s, members), num >= 0, num < attachments.count {
                out.append("{\"_binary\":\"" as StaticString)
                attachments[num].withUnsafeBytes { out.appendBase64($0) }
                out.append("\"}" as StaticString)
                return
            }
            out.append(byte: UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(byte: UInt8(ascii: ",")) }
                writeJSON(UnsafeRawBufferPointer(rebasing: s.bytes[m.key]))
                out.append(byte: UInt8(ascii: ":"))
                writeValue(s, m.value, attachments)
            }
            out.append(byte: UInt8(ascii: "}"))
        case .array:
            out.append(byte: UInt8(ascii: "["))
            for (i, e) in (s.arrayElements(range) ?? []).enumerated() {
                if i > 0 { out.append(byte: UInt8(ascii: ",")) }
                writeValue(s, e, attachments)
            }
            out.append(byte: UInt8(ascii: "]"))
        default:
            writeJSON(UnsafeRawBufferPointer(rebasing: s.bytes[range]))
        }
    }

    /// The `num` of a placeholder: an object whose `_placeholder` is `true` (other members allowed, as the
    /// reference parsers' `reconstructPacket` allows them).
    func placeholder(_ s: JSONScanner, _ members: [(key: Range<Int>, value: Range<Int>)]) -> Int? {
        var isPlaceholder = false
        var num: Int? = nil
        for m in members {
            if s.keyEquals(m.key, "_placeholder") {
                isPlaceholder = s.bytes[s.skipSpace(m.value.lowerBound)] == UInt8(ascii: "t")
            } else if s.keyEquals(m.key, "num") {
                num = s.decodeInteger(m.value).map { Int($0) }
            }
        }
        return isPlaceholder ? num : nil
    }

    /// Copies JSON text from the wire; it was validated as JSON, and is repaired if its strings hold invalid UTF-8
    /// (unless `valid` says the text was checked already).
    func writeJSON(_ bytes: UnsafeRawBufferPointer, valid: Bool = false) {
        guard valid || isValidUTF8(bytes) else {
            var repaired = Array(String(decoding: bytes, as: UTF8.self).utf8)
            repaired.withUnsafeBytes { writeJSON($0, valid: true) }
            repaired.removeAll()
            return
        }
        // Copied and checked in one pass; JSON sent pretty-printed (line breaks between its tokens) is written
        // again over the copy, compacted.
        if copyReportingLineBreak(bytes, to: out.reserve(bytes.count)) {
            appendCompact(bytes)
        } else {
            out.commit(bytes.count)
        }
    }

    /// Appends JSON sent pretty-printed without the whitespace between tokens, so a record stays on one line
    /// (strings are kept as they are).
    func appendCompact(_ bytes: UnsafeRawBufferPointer) {
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                out.append(byte: b)
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if b != 0x20 && b != 0x0A && b != 0x0D && b != 0x09 {
                if b == UInt8(ascii: "\"") { inString = true }
                out.append(byte: b)
            }
        }
    }

    /// Packet data that is text for people (a ping's "probe"): a JSON string.
    func appendWireText(_ bytes: UnsafeRawBufferPointer) {
        if isValidUTF8(bytes) {
            out.appendJSONString(utf8: bytes)
        } else {
            out.appendJSONString(String(decoding: bytes, as: UTF8.self))
        }
    }
}
