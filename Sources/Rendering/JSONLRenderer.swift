import IMProtocol
import ImscopeCore
import Records
import SocketIO
import WebSocket

/// Writes records as JSON Lines (schema version 1 in `Docs/jsonl-schema.md`), or as one JSON array when
/// `array` is set (`--format json`).
public final class JSONLRenderer: RecordSink {
    let out: OutputBuffer
    var framing: RecordFraming
    /// The rendered type information of each messageType seen (below 4096), by number.
    var typeInfoJSON: [TypeInfoJSON?] = []
    /// The keys each connection's `sio` records start with, as last rendered.
    let heads = RenderedHeads()

    public init(out: OutputBuffer, array: Bool = false) {
        self.out = out
        framing = RecordFraming(array: array)
        framing.start(out)
    }

    public func emit(_ record: Record) {
        startRecord()
        write(record)
        endRecord()
    }

    public func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?
    ) {
        startRecord()
        out.append("{\"kind\":\"sio\"" as StaticString)
        writePlace(ts: place.ts, frame: place.frame, conn: place.conn, dir: place.dir)
        writeSIO(transport, sid: sid, version: version, message: message, im: im, ts: place.ts, conn: place.conn)
        out.append(byte: UInt8(ascii: "}"))
        endRecord()
    }

    @inline(__always)
    func startRecord() { framing.beforeRecord(out) }

    @inline(__always)
    func endRecord() {
        framing.afterRecord(out)
        out.endRecord()
    }

    public func finish() {
        framing.end(out)
        out.flush()
    }

    /// The keys every record starts with: `{"kind":…` and where it happened, as far as known.
    func writeHead(_ kind: String, ts: Timestamp?, frame: UInt64?, conn: Int?, dir: Direction?) {
        out.append("{\"kind\":\"" as StaticString)
        out.append(kind)
        out.append(byte: UInt8(ascii: "\""))
        writePlace(ts: ts, frame: frame, conn: conn, dir: dir)
    }

    /// The keys after `kind` that say where a record comes from.
    @inline(__always)
    func writePlace(ts: Timestamp?, frame: UInt64?, conn: Int?, dir: Direction?) {
        if let ts {
            out.append(",\"ts\":" as StaticString)
            out.appendTimestamp(ts)
        }
        if let frame {
            out.append(",\"frame\":" as StaticString)
            out.append(int: frame)
        }
        if let conn {
            out.append(",\"conn\":" as StaticString)
            out.append(int: conn)
        }
        if let dir {
            out.append(dir == .c2s ? ",\"dir\":\"c2s\"" as StaticString : ",\"dir\":\"s2c\"" as StaticString)
        }
    }

    func write(_ r: Record) {
        writeHead(r.kind, ts: r.ts, frame: r.frame, conn: r.conn, dir: r.dir)
        switch r.body {
        case .conn(let c):
            out.append(",\"event\":\"" as StaticString)
            out.append(c.event.name)
            out.append("\",\"client\":" as StaticString)
            out.appendJSONString(c.client.description)
            out.append(",\"server\":" as StaticString)
            out.appendJSONString(c.server.description)
            if case .close(let reason) = c.event {
                out.append(",\"reason\":\"" as StaticString)
                out.append(reason.rawValue)
                out.append("\",\"bytes\":{\"c2s\":" as StaticString)
                out.append(int: c.bytes.c2s)
                out.append(",\"s2c\":" as StaticString)
                out.append(int: c.bytes.s2c)
                out.append("},\"missing\":{\"c2s\":" as StaticString)
                out.append(int: c.missing.c2s)
                out.append(",\"s2c\":" as StaticString)
                out.append(int: c.missing.s2c)
                out.append(byte: UInt8(ascii: "}"))
            }
        case .http(let h):
            if h.head.isRequest {
                out.append(",\"method\":" as StaticString)
                out.appendJSONString(h.head.method)
                out.append(",\"uri\":" as StaticString)
                out.appendJSONString(h.head.uri)
            } else {
                out.append(",\"status\":" as StaticString)
                out.append(int: h.head.status)
                out.append(",\"reason\":" as StaticString)
                out.appendJSONString(h.head.reason)
            }
            out.append(",\"version\":" as StaticString)
            out.appendJSONString(h.head.version)
            out.append(",\"headers\":{" as StaticString)
            var seen = Set<String>()
            var first = true
            for (name, _) in h.head.headers where seen.insert(name.lowercased()).inserted {
                if !first { out.append(byte: UInt8(ascii: ",")) }
                first = false
                out.appendJSONString(name)
                out.append(byte: UInt8(ascii: ":"))
                out.appendJSONString(h.head.value(name) ?? "")
            }
            out.append("},\"bodyLength\":" as StaticString)
            out.append(int: h.bodyLength)
        case .ws(let w):
            writeWS(w.message)
        case .eio(let e):
            writeEIO(e)
        case .sio(let m):
            writeSIO(m.transport, sid: m.sid, version: m.version, message: m.message, im: m.im, ts: r.ts, conn: r.conn)
        case .diagnostic(let d):
            out.append(",\"severity\":\"" as StaticString)
            out.append(d.severity.name)
            out.append("\",\"code\":" as StaticString)
            out.appendJSONString(d.code)
            out.append(",\"message\":" as StaticString)
            out.appendJSONString(d.message)
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    func writeWS(_ m: WebSocketMessage) {
        out.append(",\"opcode\":\"" as StaticString)
        out.append(m.opcode.name)
        out.append(m.compressed ? "\",\"compressed\":true" as StaticString : "\",\"compressed\":false" as StaticString)
        out.append(",\"fragments\":" as StaticString)
        out.append(int: m.fragments)
        out.append(",\"length\":" as StaticString)
        out.append(int: m.length)
        if m.compressed {
            out.append(",\"wireLength\":" as StaticString)
            out.append(int: m.wireLength)
        }
        if m.opcode == .close {
            if let code = m.closeCode {
                out.append(",\"closeCode\":" as StaticString)
                out.append(int: code)
            }
            out.append(",\"closeReason\":" as StaticString)
            appendText(m.payload, valid: m.validUTF8)
        } else if m.opcode == .text {
            out.append(",\"text\":" as StaticString)
            appendText(m.payload, valid: m.validUTF8)
        } else {
            out.append(",\"base64\":\"" as StaticString)
            out.appendBase64(m.payload)
            out.append(byte: UInt8(ascii: "\""))
        }
        if m.truncated { out.append(",\"truncated\":true" as StaticString) }
        if m.missing > 0 {
            out.append(",\"missing\":" as StaticString)
            out.append(int: m.missing)
        }
        if m.inflateFailed { out.append(",\"inflateFailed\":true" as StaticString) }
    }

    /// Text from the wire: written as is when valid UTF-8, else with U+FFFD for the bad bytes.
    func appendText(_ bytes: UnsafeRawBufferPointer, valid: Bool) {
        if valid {
            out.appendJSONString(utf8: bytes)
        } else {
            out.appendJSONString(String(decoding: bytes, as: UTF8.self))
        }
    }
}

/// A messageType's `typeName`, `description` and `direction` fields as rendered, for the type info they render. A
/// class: looking one up takes one reference, not one for each of the strings and the array.
final class TypeInfoJSON {
    let info: MessageTypeInfo
    let json: [UInt8]
    /// The bits of `info`'s two strings: the same bits are the same strings (a message's info is a copy of its
    /// table's), so a type seen before is recognised without copying and comparing them.
    let bits: (UInt64, UInt64, UInt64, UInt64)

    init(info: MessageTypeInfo, json: [UInt8]) {
        self.info = info
        self.json = json
        bits = Self.bits(of: info)
    }

    @inline(__always)
    static func bits(of info: MessageTypeInfo) -> (UInt64, UInt64, UInt64, UInt64) {
        let name = unsafeBitCast(info.typeName, to: (UInt64, UInt64).self)
        let description = unsafeBitCast(info.description, to: (UInt64, UInt64).self)
        return (name.0, name.1, description.0, description.1)
    }

    /// Whether `other` is this type's info: its strings' bits, else (strings made apart) the values themselves.
    @inline(__always)
    func matches(_ other: MessageTypeInfo) -> Bool {
        let b = Self.bits(of: other)
        if b == bits && other.messageType == info.messageType && other.direction == info.direction { return true }
        return other == info
    }
}
