import IMProtocol
import ImscopeCore
import JSONScan
import Records

extension OutputBuffer {
    /// Appends `s` as a JSON string literal (RFC 8259 escaping; non-ASCII passes through as UTF-8).
    public func appendJSONString(_ s: String) { withUTF8Bytes(of: s) { appendJSONString(utf8: $0) } }

    /// Appends UTF-8 bytes as a JSON string literal. Invalid UTF-8 is not repaired here; callers that pass
    /// bytes from the wire validate first.
    public func appendJSONString(utf8: UnsafeRawBufferPointer) {
        guard let base = utf8.baseAddress else {
            append("\"\"" as StaticString)
            return
        }
        let n = utf8.count
        var i = firstJSONStringSpecial(base, from: 0, end: n)
        if i == n {
            // Nothing to escape (ids, names, most text): quotes and bytes written with one check for room.
            let p = reserve(n + 2)
            p[0] = UInt8(ascii: "\"")
            UnsafeMutableRawPointer(p + 1).copyMemory(from: base, byteCount: n)
            p[n + 1] = UInt8(ascii: "\"")
            commit(n + 2)
            return
        }
        append(byte: UInt8(ascii: "\""))
        var runStart = 0
        while true {
            // The run up to the byte that needs escaping (found sixteen bytes at a time), then its escape.
            append(UnsafeRawBufferPointer(start: base + runStart, count: i - runStart))
            guard i < n else { break }
            runStart = i + 1
            let c = utf8[i]
            switch c {
            case UInt8(ascii: "\""): append("\\\"" as StaticString)
            case UInt8(ascii: "\\"): append("\\\\" as StaticString)
            case 0x0A: append("\\n" as StaticString)
            case 0x0D: append("\\r" as StaticString)
            case 0x09: append("\\t" as StaticString)
            default:
                let hex: StaticString = "0123456789abcdef"
                append("\\u00" as StaticString)
                append(byte: hex.utf8Start[Int(c >> 4)])
                append(byte: hex.utf8Start[Int(c & 0x0f)])
            }
            i = firstJSONStringSpecial(base, from: runStart, end: n)
        }
        append(byte: UInt8(ascii: "\""))
    }

    /// Appends the base64 encoding of `input` (padded), without quotes.
    public func appendBase64(_ input: UnsafeRawBufferPointer) {
        let n = Base64.encodedCount(input.count)
        Base64.encode(input, to: reserve(n))
        commit(n)
    }

    /// Appends a timestamp as seconds since the epoch with the capture's precision (6 or 9 decimals).
    public func appendTimestamp(_ ts: Timestamp) {
        var ns = ts.nanoseconds
        if ns < 0 {
            append(byte: UInt8(ascii: "-"))
            ns = -ns
        }
        appendSeconds(UInt64(ns / 1_000_000_000))
        append(byte: UInt8(ascii: "."))
        let fraction = UInt64(ns % 1_000_000_000)
        if ts.precision == 9 {
            appendFraction(fraction, pairs: 4, odd: true)
        } else {
            appendFraction(fraction / 1000, pairs: 3, odd: false)
        }
    }

    /// Appends a duration in milliseconds with three decimals (`1.517`), rounded to the nearest microsecond (half
    /// away from zero), as a JSON number.
    public func appendMilliseconds(nanoseconds ns: Int64) {
        let us = (ns.magnitude + 500) / 1000
        if ns < 0 && us > 0 { append(byte: UInt8(ascii: "-")) }  // no "-0.000"
        appendDigits(us / 1000, minWidth: 1)
        append(byte: UInt8(ascii: "."))
        appendDigits(us % 1000, minWidth: 3)
    }

    /// A fraction of `2 * pairs` digits (one more when `odd`), zero-padded: written from the end two digits at a
    /// time, with no digit count to work out (cheaper than the general `appendDigits`).
    @inline(__always)
    func appendFraction(_ value: UInt64, pairs: Int, odd: Bool) {
        let width = 2 * pairs + (odd ? 1 : 0)
        let p = reserve(width)
        let table = Self.digitPairs.utf8Start
        var v = value
        var at = width
        for _ in 0..<pairs {
            let r = Int(v % 100) &* 2
            v /= 100
            at &-= 2
            p[at] = table[r]
            p[at &+ 1] = table[r &+ 1]
        }
        if odd { p[0] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10) }
        commit(width)
    }

    /// Whole seconds in decimal, copied from the last conversion when they are the same.
    @inline(__always)
    func appendSeconds(_ seconds: UInt64) {
        if seconds == cachedSeconds {
            let n = cachedSecondsCount
            let p = reserve(n)
            withUnsafeBytes(of: &cachedSecondsDigits) {
                p.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: n)
            }
            commit(n)
            return
        }
        let start = count
        appendDigits(seconds, minWidth: 1)
        cachedSeconds = seconds
        cachedSecondsCount = count - start  // at most 20 digits: they fit the 24 bytes kept
        let written = UnsafeRawBufferPointer(start: base + start, count: cachedSecondsCount)
        withUnsafeMutableBytes(of: &cachedSecondsDigits) { $0.copyMemory(from: written) }
    }

    /// `"typeName":…,"description":…,"direction":…` of a messageType row: the fields the `im` object of the
    /// timeline and `imscope types` share.
    public func appendTypeInfoFields(_ info: MessageTypeInfo) {
        append("\"typeName\":" as StaticString)
        appendJSONString(info.typeName)
        append(",\"description\":" as StaticString)
        appendJSONString(info.description)
        append(",\"direction\":" as StaticString)
        appendJSONString(info.direction.rawValue)
    }
}
