import ImscopeCore

/// Writes records as JSON Lines (schema version 1 in `Docs/jsonl-schema.md`), or as one JSON array when
/// `array` is set (`--format json`).
public final class JSONLRenderer: RecordSink {
    let out: OutputBuffer
    let array: Bool
    var first = true

    public init(out: OutputBuffer, array: Bool = false) {
        self.out = out
        self.array = array
        if array { out.append("[\n" as StaticString) }
    }

    public func emit(_ record: Record) {
        if array {
            if !first { out.append(",\n" as StaticString) }
            first = false
        }
        write(record)
        if !array { out.append(byte: 0x0A) }
        out.endRecord()
    }

    public func finish() {
        if array { out.append(first ? "]\n" as StaticString : "\n]\n" as StaticString) }
        out.flush()
    }

    func write(_ r: Record) {
        out.append("{\"kind\":\"" as StaticString)
        out.append(r.kind)
        out.append(byte: UInt8(ascii: "\""))
        if let ts = r.ts {
            out.append(",\"ts\":" as StaticString)
            out.appendTimestamp(ts)
        }
        if let frame = r.frame {
            out.append(",\"frame\":" as StaticString)
            out.append(int: frame)
        }
        if let conn = r.conn {
            out.append(",\"conn\":" as StaticString)
            out.append(int: conn)
        }
        if let dir = r.dir {
            out.append(dir == .c2s ? ",\"dir\":\"c2s\"" as StaticString : ",\"dir\":\"s2c\"" as StaticString)
        }
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
}
