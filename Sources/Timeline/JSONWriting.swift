import ImscopeCore

extension OutputBuffer {
    /// Appends `s` as a JSON string literal (RFC 8259 escaping; non-ASCII passes through as UTF-8).
    public func appendJSONString(_ s: String) {
        var s = s
        s.withUTF8 { appendJSONString(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Appends UTF-8 bytes as a JSON string literal. Invalid UTF-8 is not repaired here; callers that pass
    /// bytes from the wire validate first.
    public func appendJSONString(utf8: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        for i in 0..<utf8.count {
            let c = utf8[i]
            if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { continue }
            if runStart < i { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart..<i])) }
            runStart = i + 1
            switch c {
            case UInt8(ascii: "\""): append("\\\"" as StaticString)
            case UInt8(ascii: "\\"): append("\\\\" as StaticString)
            case 0x0A: append("\\n" as StaticString)
            case 0x0D: append("\\r" as StaticString)
            case 0x09: append("\\t" as StaticString)
            default:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                append("\\u00" as StaticString)
                bytes.append(hex[Int(c >> 4)])
                bytes.append(hex[Int(c & 0x0f)])
            }
        }
        if runStart < utf8.count { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart...])) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends a timestamp as seconds since the epoch with the capture's precision (6 or 9 decimals).
    public func appendTimestamp(_ ts: Timestamp) {
        var ns = ts.nanoseconds
        if ns < 0 {
            bytes.append(UInt8(ascii: "-"))
            ns = -ns
        }
        appendDigits(UInt64(ns / 1_000_000_000), minWidth: 1)
        bytes.append(UInt8(ascii: "."))
        let fraction = UInt64(ns % 1_000_000_000)
        if ts.precision == 9 {
            appendDigits(fraction, minWidth: 9)
        } else {
            appendDigits(fraction / 1000, minWidth: 6)
        }
    }
}
