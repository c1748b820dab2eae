import IMProtocol
import ImscopeCore
import JSONScan
import Records
import WebSocket

/// Writes records for a person: one line each, time relative to the first packet, colored on a terminal.
///
/// ```
///      0.000000  #1        127.0.0.1:40112 → 127.0.0.1:9092  open
///      0.009901  #1    c→s u1 → u2  text  "hello"  ack #1
///      0.011419  #1    c←s ACK #1 [{"status":"ok"}]  (1.517 ms after frame 20)
///      0.013000  #3    c←s warning tcp.gap  1448 bytes missing at stream offset 2896  (frame 55)
/// ```
public final class TextRenderer: RecordSink {
    let out: OutputBuffer
    let color: Bool
    /// Hide transport noise (Engine.IO and WebSocket pings and pongs, HTTP polling requests) — `--all` shows it.
    let fold: Bool
    var origin: Timestamp? = nil
    /// Records hidden by folding, per connection, shown on its close line.
    var folded: [Int: Int] = [:]

    public init(out: OutputBuffer, color: Bool, fold: Bool = false) {
        self.out = out
        self.color = color
        self.fold = fold
    }

    /// Whether folding hides this record.
    func hides(_ r: Record) -> Bool {
        guard fold else { return false }
        switch r.body {
        case .eio(let e): return e.type == .ping || e.type == .pong || e.type == .noop
        case .ws(let w): return w.message.opcode == .ping || w.message.opcode == .pong
        case .http: return true
        default: return false
        }
    }

    /// The relative clock starts at the capture's first packet.
    public func begin(origin: Timestamp) { if self.origin == nil { self.origin = origin } }

    public func finish() { out.flush() }

    private func paint(_ code: StaticString) { if color { out.append(code) } }
    private func reset() { if color { out.append("\u{1B}[0m" as StaticString) } }

    public func emit(_ r: Record) {
        if hides(r) {
            if let c = r.conn { folded[c, default: 0] += 1 }
            return
        }
        appendTime(r.ts)
        appendPlace(conn: r.conn, dir: r.dir)
        switch r.body {
        case .conn(let c): appendConnection(c, conn: r.conn)
        case .http(let h): appendHTTP(h)
        case .ws(let w): appendWebSocket(w.message)
        case .eio(let e): appendEngineIO(e)
        case .sio(let s): appendSIO(s, ts: r.ts)
        case .diagnostic(let d): appendDiagnostic(d, frame: r.frame)
        }
        out.append(byte: 0x0A)
        out.endRecord()
    }

    /// The time since the first packet, right-aligned in 13 columns (wider when it needs more: a long capture, a
    /// packet dated far before the first); a dash without a time.
    func appendTime(_ ts: Timestamp?) {
        if let ts {
            if origin == nil { origin = ts }
            let rel = ts.nanoseconds &- origin!.nanoseconds
            let text = formatSeconds(rel, precision: ts.precision)
            for _ in 0..<max(0, 13 - text.utf8.count) { out.append(byte: 0x20) }
            out.append(text)
        } else {
            out.append("            -" as StaticString)
        }
        out.append("  " as StaticString)
    }

    /// The connection number in 6 columns, then the direction as an arrow between client and server.
    func appendPlace(conn: Int?, dir: Direction?) {
        var tag = conn.map { "#\($0)" } ?? ""
        tag += String(repeating: " ", count: max(0, 6 - tag.utf8.count))
        out.append(tag)
        switch dir {
        case .c2s: out.append("c→s " as StaticString)
        case .s2c: out.append("c←s " as StaticString)
        case nil: out.append("    " as StaticString)
        }
    }

    /// A connection opened, upgraded or closed: its endpoints, the event, and on close its byte counts, the records
    /// folded away and the bytes missing.
    func appendConnection(_ c: ConnRecord, conn: Int?) {
        paint("\u{1B}[36m")
        out.append(c.client.description)
        out.append(" → " as StaticString)
        out.append(c.server.description)
        reset()
        out.append("  " as StaticString)
        paint("\u{1B}[1m")
        out.append(c.event.name)
        reset()
        guard case .close(let reason) = c.event else { return }
        out.append(" " as StaticString)
        out.append(reason.rawValue)
        out.append("  c2s " as StaticString)
        out.append(int: c.bytes.c2s)
        out.append(" B  s2c " as StaticString)
        out.append(int: c.bytes.s2c)
        out.append(" B" as StaticString)
        if let conn, let n = folded.removeValue(forKey: conn) {
            paint("\u{1B}[2m")
            out.append("  (" as StaticString)
            out.append(int: n)
            out.append(" folded: pings, pongs, HTTP; --all shows them)" as StaticString)
            reset()
        }
        if c.missing.c2s + c.missing.s2c > 0 {
            paint("\u{1B}[33m")
            out.append("  missing c2s " as StaticString)
            out.append(int: c.missing.c2s)
            out.append(" B  s2c " as StaticString)
            out.append(int: c.missing.s2c)
            out.append(" B" as StaticString)
            reset()
        }
    }

    /// An HTTP request or response: its start line and the length of its body.
    func appendHTTP(_ h: HTTPRecord) {
        paint("\u{1B}[35m")
        if h.head.isRequest {
            out.append(h.head.method)
            out.append(" " as StaticString)
            out.append(h.head.uri)
        } else {
            out.append(int: h.head.status)
            out.append(" " as StaticString)
            out.append(h.head.reason)
        }
        reset()
        if h.bodyLength > 0 {
            out.append("  body " as StaticString)
            out.append(int: h.bodyLength)
            out.append(" B" as StaticString)
        }
    }

    /// A WebSocket message: opcode, length, how it was sent, a preview of text and close reasons, what was lost.
    func appendWebSocket(_ m: WebSocketMessage) {
        paint(m.opcode.isControl ? "\u{1B}[2m" : "\u{1B}[32m")
        out.append(m.opcode.name)
        reset()
        out.append(" " as StaticString)
        out.append(int: m.length)
        out.append(" B" as StaticString)
        if m.compressed { out.append(" deflated" as StaticString) }
        if m.fragments > 1 {
            out.append(" in " as StaticString)
            out.append(int: m.fragments)
            out.append(" frames" as StaticString)
        }
        if let code = m.closeCode {
            out.append(" code " as StaticString)
            out.append(int: code)
        }
        if m.opcode == .text || m.opcode == .close {
            if m.payload.count > 0 {
                out.append("  " as StaticString)
                appendPreview(m.payload)
            }
        }
        if m.truncated { out.append("  [truncated]" as StaticString) }
        if m.missing > 0 {
            paint("\u{1B}[33m")
            out.append("  [" as StaticString)
            out.append(int: m.missing)
            out.append(" B missing]" as StaticString)
            reset()
        }
        if m.inflateFailed { out.append("  [not inflated]" as StaticString) }
    }

    /// An Engine.IO packet: version and type, then the handshake of an open packet or a preview of the data.
    func appendEngineIO(_ e: EIORecord) {
        paint("\u{1B}[2m")
        out.append("eio" as StaticString)
        out.append(int: e.version)
        out.append(" " as StaticString)
        out.append(e.type.name)
        reset()
        if let h = e.handshake {
            out.append(" sid " as StaticString)
            out.append(h.sid)
            if let v = h.pingInterval {
                out.append(" ping " as StaticString)
                out.append(int: v)
                out.append(" ms" as StaticString)
            }
            if !h.upgrades.isEmpty {
                out.append(" upgrades " as StaticString)
                out.append(h.upgrades.joined(separator: ","))
            }
        } else if e.data.count > 0 {
            out.append(" " as StaticString)
            appendPreview(e.data)
        }
        out.append(e.transport == .polling ? "  (polling)" as StaticString : "" as StaticString)
    }

    /// A diagnostic: severity, code and message, and the frame it concerns.
    func appendDiagnostic(_ d: Diagnostic, frame: UInt64?) {
        switch d.severity {
        case .info: paint("\u{1B}[2m")
        case .warning: paint("\u{1B}[33m")
        case .error: paint("\u{1B}[31m")
        }
        out.append(d.severity.name)
        out.append(" " as StaticString)
        out.append(d.code)
        out.append("  " as StaticString)
        out.append(d.message)
        reset()
        if let frame {
            out.append("  (frame " as StaticString)
            out.append(int: frame)
            out.append(")" as StaticString)
        }
    }

    /// A Socket.IO packet: its ImMessage when it carries one, else type, namespace, ack id, a preview of the data,
    /// attachments, and for an ack how long after its request it came.
    func appendSIO(_ s: SIORecord, ts: Timestamp?) {
        if let im = s.im {
            appendIM(im, s, ts: ts)
            return
        }
        let p = s.message.packet
        paint("\u{1B}[32m")
        out.append(p.type.name)
        reset()
        if p.namespace != "/" {
            out.append(" " as StaticString)
            out.append(p.namespace)
        }
        if let id = p.ackId {
            out.append(" #" as StaticString)
            out.append(int: id)
        }
        if let data = p.data {
            out.append(" " as StaticString)
            appendPreview(UnsafeRawBufferPointer(rebasing: s.message.text[data]))
        }
        if p.attachments > 0 {
            out.append("  +" as StaticString)
            out.append(int: p.attachments)
            out.append(" binary" as StaticString)
        }
        if let answers = s.message.answers, let ts {
            out.append("  (" as StaticString)
            out.appendMilliseconds(nanoseconds: ts.nanoseconds - answers.ts.nanoseconds)
            out.append(" ms after frame " as StaticString)
            out.append(int: answers.frame)
            out.append(")" as StaticString)
        }
        if s.transport == .polling { out.append("  (polling)" as StaticString) }
    }

    /// An ImMessage: user, arrow, type, a summary of the content, the ack, the warnings.
    func appendIM(_ im: IMMessage, _ s: SIORecord, ts: Timestamp?) {
        if s.message.packet.namespace != "/" {
            out.append(s.message.packet.namespace)
            out.append(" " as StaticString)
        }
        let argument = s.imArgument
        paint("\u{1B}[1m")
        out.append(im.fromId?.string(in: argument) ?? "?")
        reset()
        out.append(" → " as StaticString)
        out.append(im.destId?.string(in: argument) ?? "?")
        out.append("  " as StaticString)
        paint("\u{1B}[36m")
        if let info = im.info {
            out.append(info.typeName)
        } else {
            out.append("type " as StaticString)
            out.append(im.messageType.map(String.init) ?? "?")
        }
        reset()
        if let event = RecordFilter.eventName(s), event != "chat" {
            out.append(" (" as StaticString)
            out.append(event)
            out.append(")" as StaticString)
        }
        im.withContentJSON(in: argument) { content in
            guard let content, !content.isEmpty else { return }
            out.append("  " as StaticString)
            appendSummary(content, type: im.info?.typeName)
        }
        if let id = s.message.packet.ackId {
            paint("\u{1B}[2m")
            out.append("  ack #" as StaticString)
            out.append(int: id)
            reset()
        }
        for w in im.warnings {
            paint("\u{1B}[35m")
            out.append("  ⚠ " as StaticString)
            out.append(w.code)
            out.append(": " as StaticString)
            out.append(w.message)
            reset()
        }
    }

    /// A short summary of a content: the text itself, or the telling fields of a structured content.
    func appendSummary(_ json: UnsafeRawBufferPointer, type: String?) {
        let s = JSONScanner(json)
        let all = 0..<json.count
        if s.kind(at: 0) == .string, let text = s.decodeString(all) {
            var t = text.replacingNewlines()
            if t.count > 80 { t = String(t.prefix(80)) + "…" }
            out.append("\"" as StaticString)
            out.append(t)
            out.append("\"" as StaticString)
            return
        }
        guard s.kind(at: 0) == .object, let members = s.objectMembers(all) else {
            appendPreview(json)
            return
        }
        var parts: [String] = []
        for m in members.prefix(6) {
            guard let key = s.decodeString(m.key) else { continue }
            var value: String
            if s.kind(at: m.value.lowerBound) == .string {
                value = s.decodeString(m.value) ?? ""
            } else {
                value = String(decoding: UnsafeRawBufferPointer(rebasing: json[m.value]), as: UTF8.self)
            }
            if value.count > 48 { value = String(value.prefix(48)) + "…" }
            parts.append("\(key)=\(value.replacingNewlines())")
        }
        out.append(parts.joined(separator: " "))
    }

    /// At most 160 characters of text, one line, control characters shown as escapes.
    func appendPreview(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        var shown = 0
        for ch in text.unicodeScalars {
            if shown == 160 {
                out.append("…" as StaticString)
                break
            }
            switch ch {
            case "\n": out.append("\\n" as StaticString)
            case "\r": out.append("\\r" as StaticString)
            case "\t": out.append("\\t" as StaticString)
            default:
                if ch.value < 0x20 || ch.value == 0x7F {
                    out.append("\\x" + String(ch.value, radix: 16))
                } else {
                    out.append(String(ch))
                }
            }
            shown += 1
        }
    }

    func formatSeconds(_ ns: Int64, precision: UInt8) -> String {
        let negative = ns < 0
        let v = ns.magnitude
        let fraction = precision == 9 ? v % 1_000_000_000 : (v % 1_000_000_000) / 1000
        var f = String(fraction)
        f = String(repeating: "0", count: Int(precision == 9 ? 9 : 6) - f.count) + f
        return (negative ? "-" : "") + "\(v / 1_000_000_000).\(f)"
    }
}

extension String {
    func replacingNewlines() -> String {
        var out = ""
        for ch in unicodeScalars {
            switch ch {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
